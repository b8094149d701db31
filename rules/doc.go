// Package rules is the domain of ldapsync as the regulations state it: how
// Vietnamese names fold to account names (NT Art. 4), the unit tree and its
// organisational accounts, password profiles (NT Art. 7, BTC 5) and the
// periods the lifecycle counts, and the domain's types an account is
// planned on (Account, Snapshot, GroupChange), which the directory package
// maps LDAP entries into and sync plans on. It is pure: no I/O, no clock, no globals.
// Every number and list it uses comes from Config, whose defaults are the
// Ninh Thuận regulation.
package rules
