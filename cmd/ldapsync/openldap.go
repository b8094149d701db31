package main

import (
	"bytes"
	"context"
	"flag"

	"github.com/ldapsync/ldapsync/directory/openldap"
)

func init() {
	register(&command{
		name:    "openldap",
		summary: "Print the cn=config LDIF that sets an existing OpenLDAP server up for ldapsync, to pipe into ldapmodify -Y EXTERNAL -H ldapi:///.",
		help: `The output is the setup files of the README's "Setting up OpenLDAP", in
the order they must be applied, filled in with the config's base_dn,
bind_dn and containers: the overlay modules, Argon2 hashing (with
--argon2), the ldapsync schema, the memberof, refint and ppolicy overlays,
and last-bind tracking, indexes, limits and access rules. Each file's
comment header says what it does and what to drop when the server already
has it. Review it, then on the LDAP server, as root:

  ldapsync openldap --config config.yaml > ldapsync.ldif
  ldapmodify -Y EXTERNAL -H ldapi:/// -f ldapsync.ldif

Nothing is sent to a server; the bind password is not read.`,
		run: func(_ context.Context, a *app, fs *flag.FlagSet, args []string) int {
			path := a.configFlag(fs)
			database := fs.String("database", "olcDatabase={1}mdb,cn=config",
				"DN in cn=config of the database whose suffix is directory.base_dn "+
					"(ldapsearch -Y EXTERNAL -H ldapi:/// -b cn=config '(olcSuffix=*)' dn)")
			argon2 := fs.Bool("argon2", false, "hash passwords with Argon2: only where slapd has the argon2 module (Debian: /usr/lib/ldap/argon2.so)")
			precision := fs.Int("last-bind-precision", 0, "olcLastBindPrecision in seconds; slapd 2.6 and later only (2.5 refuses it)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 0 {
				fs.Usage()
				return exitUsage
			}
			l, err := loadConfig(*path)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			p := l.Cfg.Directory.SetupParams(*database)
			p.Argon2, p.LastBindPrecision = *argon2, *precision
			files, err := openldap.Render(p)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			var out bytes.Buffer
			for i, f := range files {
				if i > 0 {
					out.WriteString("\n") // a blank line ends the previous record
				}
				out.Write(bytes.TrimRight(f.Data, "\n"))
				out.WriteString("\n")
			}
			if _, err := a.stdout.Write(out.Bytes()); err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			return exitOK
		},
	})
}
