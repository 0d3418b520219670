package chartsrc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Serve is the body of a separate chart-source process (a detached stack): Start, write
// the Sources to stateFile (0600: it holds the password) once everything is served, wait
// for ctx to end, Close. The parent reads stateFile with LoadSources.
func Serve(ctx context.Context, cfg Config, stateFile string) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	// Written whole and renamed, so a reader never sees half a file.
	tmp := stateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, stateFile); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// LoadSources reads what Serve wrote. The result describes servers another process runs:
// its Close does nothing.
func LoadSources(stateFile string) (*Sources, error) {
	b, err := os.ReadFile(stateFile)
	if err != nil {
		return nil, err
	}
	s := &Sources{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("chartsrc: %s: %w", filepath.Base(stateFile), err)
	}
	if s.RepoURL == "" || s.OCIRegistry == "" {
		return nil, fmt.Errorf("chartsrc: %s describes no servers", filepath.Base(stateFile))
	}
	return s, nil
}
