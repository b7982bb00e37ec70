package query

// keySet is a set of tkeys. Plain keys (one or two int64s) live in a map
// without pointers, which hashes faster than tkey and which the garbage
// collector never scans: rule tables and projections hold tens of
// thousands of them. The zero keySet is empty and ready to use.
type keySet struct {
	ints map[[2]int64]struct{}
	strs map[string]struct{}
}

// add inserts k and reports whether it was new.
func (s *keySet) add(k tkey) bool {
	if k.s == "" {
		if s.ints == nil {
			s.ints = map[[2]int64]struct{}{}
		}
		n := len(s.ints)
		s.ints[k.i] = struct{}{}
		return len(s.ints) > n
	}
	if s.strs == nil {
		s.strs = map[string]struct{}{}
	}
	if _, ok := s.strs[k.s]; ok {
		return false
	}
	s.strs[k.s] = struct{}{}
	return true
}

// reset empties the set, keeping its maps' room unless they grew far
// beyond want keys (clearing costs a map's size).
func (s *keySet) reset(want int) {
	if len(s.ints) > 8*want+64 {
		s.ints = nil
	} else {
		clear(s.ints)
	}
	if len(s.strs) > 8*want+64 {
		s.strs = nil
	} else {
		clear(s.strs)
	}
}
