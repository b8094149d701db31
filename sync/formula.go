package sync

import (
	"fmt"
	"regexp"
	"strings"
)

// A cell that starts with = + - or @ is a formula to a spreadsheet, and
// Excel runs "=cmd|' /C calc'!A0" as a command once its warning is
// clicked through; a tab or carriage return first can hide one from a
// check (OWASP, CSV injection). Such a value would be stored in the
// directory, printed in the letter and written into the rejected CSV an
// admin opens in Excel, so input refuses it (formulaProblem) and every file
// written for people escapes it (neutralizeCell).

// formulaLeads are the first characters that make a cell a formula.
const formulaLeads = "=+-@\t\r"

// startsFormula reports whether a spreadsheet reads s as a formula.
func startsFormula(s string) bool {
	return s != "" && strings.IndexByte(formulaLeads, s[0]) >= 0
}

// neutralizeCell returns s as a spreadsheet shows it as text: with a
// single quote before a formula's first character. unquoteCell undoes it.
func neutralizeCell(s string) string {
	if startsFormula(s) {
		return "'" + s
	}
	return s
}

// neutralizeRow returns row with every cell neutralized, leaving row as it
// is.
func neutralizeRow(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = neutralizeCell(c)
	}
	return out
}

// unquoteCell removes the single quote neutralizeCell put before a
// formula's first character, so a rejected CSV that is fixed and dropped
// back into the inbox reads as it was first written: "'+84 259 3824 101"
// is "+84 259 3824 101" again. Excel may also drop the quote when it saves
// the file; then there is none to remove.
func unquoteCell(s string) string {
	if len(s) > 1 && s[0] == '\'' && startsFormula(s[1:]) {
		return s[1:]
	}
	return s
}

// phoneLeadRE is what a phone number that starts with + may hold.
var phoneLeadRE = regexp.MustCompile(`^\+[0-9 ().-]*$`)

// formulaProblem returns why the value of field f, raw as read and v once
// cleaned, would run as a formula in a spreadsheet, or "". Two fields
// start with + or - by design: a phone number in international form
// (+84 259 3824 101), and applications written as changes (+mail;-eoffice),
// which must name applications of the config.
func formulaProblem(f, raw, v string) string {
	const why = "a spreadsheet would run it as a formula"
	switch {
	case strings.HasPrefix(raw, "\t"):
		return "starts with a tab: " + why
	case strings.HasPrefix(raw, "\r"):
		return "starts with a carriage return: " + why
	case !startsFormula(v):
		return ""
	}
	lead := v[0]
	switch {
	case f == FieldApplications && (lead == '+' || lead == '-'):
		return ""
	case (f == FieldPhone || f == FieldReplyPhone) && lead == '+':
		if phoneLeadRE.MatchString(v) {
			return ""
		}
		return fmt.Sprintf("starts with '+' and is not a phone number (+ then digits, spaces and . - ( ) only): %s", why)
	}
	return fmt.Sprintf("starts with %q: %s", lead, why)
}
