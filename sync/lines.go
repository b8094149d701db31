package sync

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// errTornLine is returned by a scanLines callback for a line it cannot
// parse; scanLines forgives it only when it is the last line.
var errTornLine = errors.New("torn line")

// scanLines reads the append-only JSON Lines file f from the start, calls fn
// for each line (which fn must not keep: it is reused), and returns the offset after the last good line. What
// follows it — a line cut short by a crash, or a last line fn cannot parse —
// is a write that was never acknowledged (it was not fsynced when the
// process died), so the file is truncated there and repaired reports it. A
// bad line before the last is an error: that is damage, not a crash.
func scanLines(f *os.File, fn func(lineNo int, line []byte) error) (repaired bool, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var good int64
	var long []byte // a line longer than br's buffer, put together
	for lineNo := 1; ; lineNo++ {
		// fn gets the line in br's buffer, not a copy: a journal of
		// 100,000 events is read without 100,000 allocations.
		line, err := readLine(br, &long)
		if errors.Is(err, io.EOF) {
			break // no newline: a torn write, or the clean end
		}
		if err != nil {
			return false, err
		}
		if err := fn(lineNo, line); err != nil {
			if _, peek := br.Peek(1); errors.Is(err, errTornLine) && errors.Is(peek, io.EOF) {
				break
			}
			return false, fmt.Errorf("%s line %d: %w", f.Name(), lineNo, err)
		}
		good += int64(len(line))
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, err
	}
	if good == end {
		return false, nil
	}
	if err := f.Truncate(good); err != nil {
		return false, fmt.Errorf("cut torn tail of %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return false, err
	}
	return true, f.Sync()
}

// readLine returns the next line of br, with its newline, in br's buffer;
// a line longer than the buffer is put together in *long, which is reused.
func readLine(br *bufio.Reader, long *[]byte) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	*long = append((*long)[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = br.ReadSlice('\n')
		*long = append(*long, line...)
	}
	return *long, err
}
