package nodeagent

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// logFile is a container's output in the CRI log format ("<RFC3339Nano> <stream> <F|P>
// <text>"), which keeps the timestamps and streams the kubelet API can ask for.
type logFile struct {
	clock clock.Clock
	path  string

	mu      sync.Mutex
	f       *os.File
	closed  bool
	changed chan struct{} // closed and replaced on every write and on close
}

func newLogFile(path string, c clock.Clock) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &logFile{clock: c, path: path, f: f, changed: make(chan struct{})}, nil
}

// copyFrom records r's lines as stream until EOF; a line longer than 16 KiB is split into
// partial (P) entries, as runtimes do.
func (l *logFile) copyFrom(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			tag := "P"
			if line[len(line)-1] == '\n' {
				tag, line = "F", line[:len(line)-1]
			}
			l.write(stream, tag, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (l *logFile) write(stream, tag string, text []byte) {
	var b bytes.Buffer
	b.WriteString(l.clock.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(" " + stream + " " + tag + " ")
	b.Write(text)
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	_, _ = l.f.Write(b.Bytes())
	close(l.changed)
	l.changed = make(chan struct{})
}

// close ends the log (the container exited): followers stop after what is there.
func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.f.Close()
		close(l.changed)
	}
}

func (l *logFile) state() (closed bool, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed, l.changed
}

type logEntry struct {
	t       time.Time
	stream  string
	partial bool
	text    []byte
}

func parseLog(b []byte) []logEntry {
	var out []logEntry
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // a line being written
		}
		line := b[:i]
		b = b[i+1:]
		f := bytes.SplitN(line, []byte(" "), 4)
		if len(f) < 4 {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(f[0]))
		if err != nil {
			continue
		}
		out = append(out, logEntry{t: t, stream: string(f[1]), partial: string(f[2]) == "P", text: f[3]})
	}
	return out
}

// output is the container's raw output so far (all streams), for the termination message.
func (l *logFile) output() []byte {
	b, _ := os.ReadFile(l.path)
	var out bytes.Buffer
	for _, e := range parseLog(b) {
		out.Write(e.text)
		if !e.partial {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// logOptions are the kubelet containerLogs query parameters the agent honours.
type logOptions struct {
	tailLines  int64 // <0: all
	limitBytes int64 // <=0: no limit
	timestamps bool
	follow     bool
	since      time.Time
}

func parseLogOptions(q map[string][]string, now time.Time) logOptions {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	o := logOptions{tailLines: -1}
	if n, err := strconv.ParseInt(get("tailLines"), 10, 64); err == nil && n >= 0 {
		o.tailLines = n
	}
	if n, err := strconv.ParseInt(get("limitBytes"), 10, 64); err == nil && n > 0 {
		o.limitBytes = n
	}
	o.timestamps = get("timestamps") == "true" || get("timestamps") == "1"
	o.follow = get("follow") == "true" || get("follow") == "1"
	if n, err := strconv.ParseInt(get("sinceSeconds"), 10, 64); err == nil && n > 0 {
		o.since = now.Add(-time.Duration(n) * time.Second)
	}
	if t, err := time.Parse(time.RFC3339, get("sinceTime")); err == nil {
		o.since = t
	}
	return o
}

// render writes entries as the kubelet API returns them; it returns false once limitBytes
// is used up.
func render(w io.Writer, entries []logEntry, o logOptions, written *int64) bool {
	for _, e := range entries {
		var b bytes.Buffer
		if o.timestamps {
			b.WriteString(e.t.Format(time.RFC3339Nano) + " ")
		}
		b.Write(e.text)
		if !e.partial {
			b.WriteByte('\n')
		}
		out := b.Bytes()
		if o.limitBytes > 0 && *written+int64(len(out)) > o.limitBytes {
			out = out[:o.limitBytes-*written]
		}
		n, _ := w.Write(out)
		*written += int64(n)
		if o.limitBytes > 0 && *written >= o.limitBytes {
			return false
		}
	}
	return true
}

// serve answers a containerLogs request from the file, following it while asked and the
// container runs.
func (l *logFile) serve(w http.ResponseWriter, r *http.Request) {
	o := parseLogOptions(r.URL.Query(), l.clock.Now())
	w.Header().Set("Content-Type", "text/plain")
	var written int64
	var offset int
	first := true
	for {
		closed, changed := l.state()
		b, err := os.ReadFile(l.path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		// Only whole lines: a line being written is read on the next round.
		end := bytes.LastIndexByte(b, '\n') + 1
		entries := parseLog(b[offset:end])
		offset = end
		var keep []logEntry
		for _, e := range entries {
			if o.since.IsZero() || !e.t.Before(o.since) {
				keep = append(keep, e)
			}
		}
		if first && o.tailLines >= 0 && int64(len(keep)) > o.tailLines {
			keep = keep[int64(len(keep))-o.tailLines:]
		}
		first = false
		if !render(w, keep, o, &written) || !o.follow || closed {
			return
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}
