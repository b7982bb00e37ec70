package query

import (
	"fmt"

	"github.com/accretedb/accrete/edn"
)

// Rules is a parsed rule set, the value bound to % in :in. A rule may have
// several definitions (bodies); a call matches the union of them. Rules is
// immutable and safe for concurrent use.
type Rules struct {
	defs map[edn.Symbol][]*ruleDef
}

// ruleDef is one definition: (name [?req…] ?arg…) body….
type ruleDef struct {
	name edn.Symbol
	vt   *varTable
	head []int // slots of the head variables, in order
	nreq int   // the first nreq head variables must be bound by the caller
	body []clause
	form any
}

// ParseRules parses a rule set given as EDN text or a vector of rules,
// each [(name ?a ?b) clause…] or [(name [?a] ?b) clause…]. Every
// definition of one name must have the same arity and required prefix.
// Errors wrap ErrMalformed.
func ParseRules(v any) (*Rules, error) {
	switch x := v.(type) {
	case *Rules:
		return x, nil
	case string:
		r, err := qReadEDN(string(x))
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("%w: rules: %w", ErrMalformed, err)}
		}
		v = r
	case []byte:
		r, err := qReadEDN(string(x))
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("%w: rules: %w", ErrMalformed, err)}
		}
		v = r
	}
	list, ok := asVec(v)
	if !ok {
		if l, isList := v.(edn.List); isList {
			list = l
		} else {
			return nil, errorf(v, ErrMalformed, "a rule set is a vector of rules")
		}
	}
	rs := &Rules{defs: map[edn.Symbol][]*ruleDef{}}
	for _, r := range list {
		d, err := parseRule(r)
		if err != nil {
			return nil, err
		}
		if prev := rs.defs[d.name]; len(prev) > 0 {
			if len(prev[0].head) != len(d.head) || prev[0].nreq != d.nreq {
				return nil, errorf(r, ErrArity, "rule %s is defined with different heads", d.name)
			}
		}
		rs.defs[d.name] = append(rs.defs[d.name], d)
	}
	return rs, nil
}

func parseRule(r any) (*ruleDef, error) {
	v, ok := asVec(r)
	if !ok || len(v) < 2 {
		return nil, errorf(r, ErrMalformed, "a rule is [(name args…) clause…]")
	}
	head, ok := v[0].(edn.List)
	if !ok || len(head) < 1 {
		return nil, errorf(r, ErrMalformed, "a rule head is a list (name args…)")
	}
	name, ok := head[0].(edn.Symbol)
	if !ok || len(name) == 0 || name[0] == '?' || name[0] == '$' {
		return nil, errorf(r, ErrMalformed, "a rule name is a plain symbol")
	}
	d := &ruleDef{name: name, vt: newVarTable(), form: r}
	for i, a := range head[1:] {
		if req, ok := asVec(a); ok && i == 0 {
			for _, x := range req {
				s, ok := isVar(x)
				if !ok {
					return nil, errorf(r, ErrMalformed, "rule head arguments are variables")
				}
				d.head = append(d.head, d.vt.slot(s))
				d.nreq++
			}
			continue
		}
		s, ok := isVar(a)
		if !ok {
			return nil, errorf(r, ErrMalformed, "rule head arguments are variables")
		}
		d.head = append(d.head, d.vt.slot(s))
	}
	if len(d.head) > 64 {
		return nil, errorf(r, ErrMalformed, "a rule takes at most 64 arguments")
	}
	body, err := parseClauses(v[1:], d.vt, true)
	if err != nil {
		return nil, err
	}
	d.body = body
	outer := map[int]bool{}
	for _, h := range d.head {
		outer[h] = true
	}
	if err := resolveJoins(d.body, outer, d.vt); err != nil {
		return nil, err
	}
	return d, nil
}
