// Package sync moves personnel changes one way into the directory:
// sources (inbox files) produce validated Events; the Journal makes them
// durable and drops duplicates; Plan computes, as a pure function of the
// pending events, a directory Snapshot, the rules and the clock, the
// operations to run; Apply runs them idempotently and records each in the
// hash-chained Audit log. A crash anywhere replays from the journal and
// converges. Credentials reach the requesting unit only through sealed
// letters.
//
// The package name shadows the standard library's sync; files here that
// need both import the standard one as gosync.
package sync
