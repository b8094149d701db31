package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	gosync "sync"
	"time"

	"github.com/rs/zerolog"
)

// The sd_notify(3) protocol, written out rather than imported: one
// datagram of NAME=VALUE lines to the unixgram socket $NOTIFY_SOCKET
// (a name starting with '@' is in the abstract namespace; Go's net
// package maps '@' to the leading NUL itself). Without NOTIFY_SOCKET every
// call does nothing, so the daemon runs the same outside systemd.

// notifier tells the service manager (systemd with Type=notify) how the
// daemon is doing. The zero value, and one built without NOTIFY_SOCKET,
// sends nothing.
type notifier struct {
	socket   string        // $NOTIFY_SOCKET, "" when not run by a service manager
	watchdog time.Duration // $WATCHDOG_USEC for this process, 0 when off
	log      zerolog.Logger
	// stopOnce sends STOPPING=1 once, from whichever path gets there first.
	stopOnce gosync.Once
}

// newNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID through
// getenv. The watchdog is on only when WATCHDOG_USEC is a positive number
// and WATCHDOG_PID, if set, names this process (as sd_watchdog_enabled(3)
// decides: a child that inherited the variables must not ping for its
// parent).
func newNotifier(getenv func(string) string, log zerolog.Logger) *notifier {
	n := &notifier{socket: getenv("NOTIFY_SOCKET"), log: log}
	if n.socket == "" {
		return n
	}
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 {
		return n
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return n
	}
	n.watchdog = time.Duration(usec) * time.Microsecond
	return n
}

// send writes state (for example "READY=1") as one datagram. It returns
// nil without NOTIFY_SOCKET.
func (n *notifier) send(state string) error {
	if n == nil || n.socket == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}

// notify sends state and logs a failure: the service manager's view is
// not worth stopping the daemon for, but a unit with Type=notify that never
// hears READY=1 kills it after TimeoutStartSec, and the log says why.
func (n *notifier) notify(state string) {
	if err := n.send(state); err != nil {
		n.log.Warn().Err(err).Msg("cannot notify the service manager")
	}
}

// ready says that start-up is done: the directory is reached, the journal
// open and the control socket listening.
func (n *notifier) ready() { n.notify("READY=1\nSTATUS=watching the inbox") }

// stopping says that shutdown has begun.
func (n *notifier) stopping() {
	n.stopOnce.Do(func() { n.notify("STOPPING=1\nSTATUS=stopping") })
}

// watch sends WATCHDOG=1 every half watchdog interval until done is closed,
// and returns at once when the watchdog is off. Run it while the engine
// runs, so a daemon whose Run has returned or whose process hangs whole
// stops pinging and systemd restarts it. Only the first of a run of failed
// pings is logged.
func (n *notifier) watch(done <-chan struct{}) { n.watchLive(done, nil) }

// watchLive is watch, pinging only while alive (when set) reports the
// daemon's loop went round within the watchdog interval: a loop stuck in
// a call that never returns stops the pings, and the service manager
// restarts the daemon.
func (n *notifier) watchLive(done <-chan struct{}, alive func() time.Time) {
	if n == nil || n.watchdog <= 0 {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	failing, stuck := false, false
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if alive != nil {
				if last := alive(); !last.IsZero() && time.Since(last) > n.watchdog {
					if !stuck {
						n.log.Error().Time("last_round", last).Msg("the daemon's loop has not gone round within the watchdog interval: no ping, the service manager will restart it")
					}
					stuck = true
					continue
				}
				stuck = false
			}
			err := n.send("WATCHDOG=1")
			if err != nil && !failing {
				n.log.Warn().Err(err).Msg("cannot ping the service manager's watchdog")
			}
			failing = err != nil
		}
	}
}
