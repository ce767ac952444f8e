package parity

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Case is a schedule replayed one step at a time: clients (and observers) and, in order, what
// each does. A failure's minimal case is printed in this form and, saved under testdata/cases,
// becomes a regression test. The text form:
//
//	# a comment
//	cap 1
//	include late_diagnostics
//	client c1 id=3 collation=45 caps=MULTI_STATEMENTS|FOUND_ROWS db=parity
//	observer o1
//	c1 query SET @v = 42
//	c1 idle 300ms
//	o1 probe
type Case struct {
	Comments []string
	Cap      int
	Include  Features
	Clients  []CaseClient
	Events   []CaseEvent
}

// CaseClient is one session of a case. Clients with the same Spec.ID share names: they are
// generations of one client, one after the other.
type CaseClient struct {
	Label    string
	Observer bool
	Spec     Spec
}

// CaseEvent is one step of one client (an index into Clients).
type CaseEvent struct {
	Client int
	Step   Step
}

// String renders the case in its text form.
func (c *Case) String() string {
	var b strings.Builder
	for _, line := range c.Comments {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	fmt.Fprintf(&b, "cap %d\n", c.Cap)
	if c.Include != 0 {
		fmt.Fprintf(&b, "include %s\n", c.Include)
	}
	for _, cl := range c.Clients {
		if cl.Observer {
			fmt.Fprintf(&b, "observer %s\n", cl.Label)
			continue
		}
		caps := "0"
		if cl.Spec.Caps != 0 {
			caps = cl.Spec.Caps.String()
		}
		fmt.Fprintf(&b, "client %s id=%d collation=%d caps=%s db=%s\n", cl.Label, cl.Spec.ID, cl.Spec.Collation, caps, dbWord(cl.Spec.DB))
	}
	for _, ev := range c.Events {
		fmt.Fprintf(&b, "%s %s\n", c.Clients[ev.Client].Label, ev.Step)
	}
	return b.String()
}

// ParseCase reads a case in its text form.
func ParseCase(text string) (*Case, error) {
	c := &Case{Cap: 1}
	labels := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if err := c.parseLine(line, labels); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return c, sc.Err()
}

func (c *Case) parseLine(line string, labels map[string]int) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(line, "#"); ok {
		c.Comments = append(c.Comments, strings.TrimSpace(rest))
		return nil
	}
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "cap":
		n, err := strconv.Atoi(rest)
		c.Cap = n
		return err
	case "include":
		f, err := ParseFeatures(rest)
		c.Include = f
		return err
	case "observer":
		labels[rest] = len(c.Clients)
		c.Clients = append(c.Clients, CaseClient{Label: rest, Observer: true})
		return nil
	case "client":
		cl, err := parseClient(rest)
		if err != nil {
			return err
		}
		labels[cl.Label] = len(c.Clients)
		c.Clients = append(c.Clients, cl)
		return nil
	}
	i, ok := labels[word]
	if !ok {
		return fmt.Errorf("unknown client %q", word)
	}
	s, err := ParseStep(rest)
	if err != nil {
		return err
	}
	c.Events = append(c.Events, CaseEvent{Client: i, Step: s})
	return nil
}

func parseClient(s string) (CaseClient, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return CaseClient{}, fmt.Errorf("client without a label")
	}
	cl := CaseClient{Label: f[0], Spec: Spec{Collation: 45, DB: dbMain}}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "id":
			cl.Spec.ID, err = strconv.Atoi(v)
		case "collation":
			var n int
			n, err = strconv.Atoi(v)
			cl.Spec.Collation = uint8(n)
		case "caps":
			cl.Spec.Caps, err = parseCaps(v)
		case "db":
			cl.Spec.DB = v
			if v == "-" {
				cl.Spec.DB = ""
			}
		default:
			err = fmt.Errorf("unknown client attribute %q", k)
		}
		if err != nil {
			return cl, err
		}
	}
	return cl, nil
}

func parseCaps(s string) (wire.Capability, error) {
	var c wire.Capability
	if s == "0" {
		return 0, nil
	}
	for _, name := range strings.Split(s, "|") {
		found := false
		for i := range 32 {
			if bit := wire.Capability(1) << i; bit.String() == name {
				c |= bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
	}
	return c, nil
}
