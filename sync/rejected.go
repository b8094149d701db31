package sync

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
)

// WriteRejected writes b's rejected records to w in the file's own format,
// each as it came plus an "error" field with the reasons, so an admin can
// fix the named fields and drop the file back into the inbox (the error
// field is ignored on input). CSV keeps the delimiter and starts with a
// byte-order mark so Excel opens the Vietnamese text correctly, and every
// cell that Excel would run as a formula, the error column and the header
// included, gets a leading single quote (neutralizeCell), which the reader
// removes again. JSON Lines is written as it came: no spreadsheet opens it.
func (b *Batch) WriteRejected(w io.Writer) error {
	if b.Format == FormatJSONL {
		return b.writeRejectedJSONL(w)
	}
	return b.writeRejectedCSV(w)
}

func (b *Batch) writeRejectedCSV(w io.Writer) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = b.delimiter
	cw.UseCRLF = true
	// The reason goes in the first column, where the admin sees it, unless
	// the file already has an error column (a resubmitted rejected file).
	errCol := slices.IndexFunc(b.header, func(h string) bool { return normalizeHeader(h) == FieldError })
	header := b.header
	if errCol < 0 {
		header = append([]string{FieldError}, b.header...)
	}
	if err := cw.Write(neutralizeRow(header)); err != nil {
		return err
	}
	for _, r := range b.Rejected {
		var row []string
		if errCol < 0 {
			row = append([]string{r.Reason()}, r.Record.Raw...)
		} else {
			row = make([]string, max(len(header), len(r.Record.Raw)))
			copy(row, r.Record.Raw)
			row[errCol] = r.Reason()
		}
		if err := cw.Write(neutralizeRow(row)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (b *Batch) writeRejectedJSONL(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range b.Rejected {
		var obj map[string]any
		if json.Unmarshal(r.Record.JSON, &obj) != nil || obj == nil {
			// Not an object: keep the text so nothing is lost.
			obj = map[string]any{"line": string(r.Record.JSON)}
		}
		obj[FieldError] = r.Reason()
		if err := enc.Encode(obj); err != nil {
			return err
		}
	}
	return nil
}
