package sync

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/internal/field"
)

// HeaderMap maps the header texts of HR's exports ("Họ và tên") to the
// columns they stand for (full_name). Texts are compared folded (see
// foldHeader): without case, tone or vowel marks, punctuation or extra
// spaces, so "HỌ VÀ TÊN:" and "Ho va ten" are "Họ và tên". A column's own
// name (full_name, "Full Name") needs no entry. It is the config's
// sync.inbox.headers; a map there replaces DefaultHeaders whole.
type HeaderMap map[string]string

// HeaderColumns lists the columns a HeaderMap may name: the fields of an
// event file (Fields) and the roster's username and mail.
var HeaderColumns = append(slices.Clone(Fields), FieldUsername, "mail")

// defaultHeaders is DefaultHeaders. config.example.yaml writes it out, and
// a test holds the two equal.
var defaultHeaders = HeaderMap{
	"Mã sự kiện":               FieldEventID,
	"Loại":                     FieldType,
	"Loại sự kiện":             FieldType,
	"Ngày hiệu lực":            FieldEffective,
	"Mã cán bộ":                FieldEmployeeID,
	"Mã nhân viên":             FieldEmployeeID,
	"Họ và tên":                FieldFullName,
	"Họ tên":                   FieldFullName,
	"Họ":                       FieldFamilyName,
	"Tên đệm":                  FieldMiddleName,
	"Tên":                      FieldGivenName,
	"Đơn vị":                   FieldUnit,
	"Chức vụ":                  FieldTitle,
	"Số điện thoại":            FieldPhone,
	"Điện thoại":               FieldPhone,
	"Ứng dụng":                 FieldApplications,
	"Người nhận kết quả":       FieldReplyName,
	"Đơn vị nhận kết quả":      FieldReplyUnit,
	"Thư điện tử nhận kết quả": FieldReplyMail,
	"Điện thoại nhận kết quả":  FieldReplyPhone,
	"Người đề nghị":            FieldRequestedBy,
	"Lãnh đạo":                 FieldLeader,
	"Đến ngày":                 FieldUntil,
	"Hủy sự kiện":              FieldWithdraws,
	"Tên đăng nhập":            FieldUsername,
	"Thư điện tử":              "mail",
}

// defaultHeaderIndex is DefaultHeaders compiled, for Parse without options.
var defaultHeaderIndex = func() headerIndex {
	idx, errs := defaultHeaders.compile("")
	if len(errs) > 0 {
		panic("sync: default header map: " + errs.Error())
	}
	return idx
}()

// DefaultHeaders returns the header map used when the config sets none: the
// Vietnamese headers of HR's exports.
func DefaultHeaders() HeaderMap { return maps.Clone(defaultHeaders) }

// UnmarshalYAML implements yaml.Unmarshaler. A map in the config replaces
// the default rather than adding to it (yaml.v3 would merge the two), so
// that a header the default maps can be taken out or mapped elsewhere.
func (m *HeaderMap) UnmarshalYAML(n *yaml.Node) error {
	fresh := map[string]string{}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
	case n.Kind != yaml.MappingNode:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a mapping of header text to column", n.Line)}}
	default:
		if err := n.Decode(&fresh); err != nil {
			return err
		}
	}
	*m = fresh
	return nil
}

// Validate reports every problem of the map, each under path and the
// header text as written: a value that is not a column (HeaderColumns),
// a text that folds to nothing, to the same as another entry's, or to
// another column's own name.
func (m HeaderMap) Validate(path string) field.List {
	_, errs := m.compile(path)
	return errs
}

// headerIndex maps folded header texts to columns: each column's own name,
// then the entries of a HeaderMap.
type headerIndex map[string]string

// compile builds the index of m, with its problems under path.
func (m HeaderMap) compile(path string) (headerIndex, field.List) {
	var errs field.List
	idx := headerIndex{}
	for _, c := range HeaderColumns {
		idx[foldHeader(c)] = c
	}
	from := map[string]string{} // folded text → the entry it came from
	for _, text := range slices.Sorted(maps.Keys(m)) {
		col, key, at := m[text], foldHeader(text), field.Join(path, text)
		switch own, isColumn := idx[key]; {
		case !slices.Contains(HeaderColumns, col):
			errs.Add(at, "%q is not a column: want one of %s", col, strings.Join(HeaderColumns, ", "))
		case key == "":
			errs.Add(at, "names no header: it has no letter or digit")
		case from[key] != "":
			errs.Add(at, "is the same header as %q once case, marks and punctuation are ignored", from[key])
		case isColumn && own != col:
			errs.Add(at, "is the name of the column %s; it cannot stand for %s", own, col)
		default:
			idx[key], from[key] = col, text
		}
	}
	return idx, errs
}

// column returns the column header h stands for, or "" when it names none.
func (idx headerIndex) column(h string) string { return idx[foldHeader(h)] }

// foldHeader folds a header text for comparison: lower case, without
// tone or vowel marks (đ is d), every run of other characters than letters
// and digits (spaces, "_", ":", "(*)", a stray byte-order mark) one space,
// none at either end. "Họ và tên (*)" and "HO_VA_TEN" are "ho va ten".
func foldHeader(h string) string {
	var b strings.Builder
	gap := false
	for _, r := range norm.NFD.String(h) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
		default:
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte(' ')
		}
		gap = false
		b.WriteRune(r)
	}
	return b.String()
}
