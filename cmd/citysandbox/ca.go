package main

import (
	"fmt"
	"io"

	"github.com/citysandbox/citysandbox/sandbox"
)

// caCommand prints the certificate of the CA that "serve" with the same --data and --ca-dir uses,
// creating it if the sandbox has not started yet, so that a client can be made to trust it first.
// The PEM goes to stdout (citysandbox ca > ca.pem), its path to stderr; --path prints the path
// alone. It does not open the store, so it works while the sandbox runs.
func caCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca")
	fs.SetOutput(stderr)
	data := fs.String("data", "citysandbox.db", "the buntdb file of the sandbox whose CA to print")
	caDir := fs.String("ca-dir", "", "directory of the CA (default: beside --data)")
	pathOnly := fs.Bool("path", false, "print only the path of the CA certificate's file")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	ca, err := sandbox.LoadCA(*data, *caDir)
	if err != nil {
		return err
	}
	if *pathOnly {
		_, err = fmt.Fprintln(stdout, ca.Path)
		return err
	}
	fmt.Fprintf(stderr, "CA certificate: %s\n", ca.Path)
	_, err = stdout.Write(ca.PEM)
	return err
}
