package chartsrc

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cacheFormat changes whenever the packaged layout does, so old entries are never reused.
const cacheFormat = "chartsrc-cache-1"

// cacheKey hashes every input of packaging: the helm binary (path, size, mtime: the
// build cache names it by version and checksum), each job's name, version, repositories
// and source files, and the repository list.
func (p *chartPlan) cacheKey(helmBin string) (string, error) {
	h := sha256.New()
	st, err := os.Stat(helmBin)
	if err != nil {
		return "", fmt.Errorf("chartsrc: helm: %w", err)
	}
	fmt.Fprintf(h, "%s\nhelm %q %d %d\nrepos %q\n", cacheFormat, helmBin, st.Size(), st.ModTime().UnixNano(), p.repos)
	for _, j := range p.jobs {
		fmt.Fprintf(h, "job %q %q %q\n", j.name, j.version, j.repos)
		err := filepath.WalkDir(j.src, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(j.src, path)
			fmt.Fprintf(h, "file %q %d\n", filepath.ToSlash(rel), len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("chartsrc: hashing %s: %w", j.src, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

const sumsFile = "SHA256SUMS"

// storeCache copies workDir's pkg/ and http/ into entry, with a checksum list, through a
// temporary directory renamed into place: a concurrent start sees all of it or nothing.
func storeCache(workDir, entry string) error {
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(entry), filepath.Base(entry)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var sums strings.Builder
	for _, top := range []string{"pkg", "http"} {
		err := filepath.WalkDir(filepath.Join(workDir, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(workDir, path)
			sum, err := fileSHA256(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&sums, "%s  %s\n", sum, filepath.ToSlash(rel))
			dst := filepath.Join(tmp, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return copyFile(path, dst)
		})
		if err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, sumsFile), []byte(sums.String()), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(entry) // a corrupt entry restoreCache refused
	if err := os.Rename(tmp, entry); err != nil && !errors.Is(err, fs.ErrExist) {
		// Another start stored the same entry first: theirs is as good.
		if _, statErr := os.Stat(filepath.Join(entry, sumsFile)); statErr != nil {
			return err
		}
	}
	return nil
}

// restoreCache copies an entry into workDir after checking every file against its
// checksum list; a missing or damaged entry is an error (and gets rebuilt), never used.
func restoreCache(entry, workDir string) error {
	f, err := os.Open(filepath.Join(entry, sumsFile))
	if err != nil {
		return err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, rel, ok := strings.Cut(sc.Text(), "  ")
		if !ok || rel == "" || strings.Contains(rel, "..") || filepath.IsAbs(rel) {
			return fmt.Errorf("chartsrc: cache %s: bad %s line %q", entry, sumsFile, sc.Text())
		}
		src := filepath.Join(entry, filepath.FromSlash(rel))
		if got, err := fileSHA256(src); err != nil || got != sum {
			return fmt.Errorf("chartsrc: cache %s: %s does not match its checksum", entry, rel)
		}
		dst := filepath.Join(workDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := copyFile(src, dst); err != nil {
			return err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("chartsrc: cache %s is empty", entry)
	}
	return nil
}
