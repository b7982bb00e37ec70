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

// has reports whether k is in the set.
func (s *keySet) has(k tkey) bool {
	if k.s == "" {
		_, ok := s.ints[k.i]
		return ok
	}
	_, ok := s.strs[k.s]
	return ok
}

// len returns the number of keys.
func (s *keySet) len() int { return len(s.ints) + len(s.strs) }

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

// keyIndex maps tkeys to int32s (the head of a chain of rows), split as
// keySet is.
type keyIndex struct {
	ints map[[2]int64]int32
	strs map[string]int32
}

func (x *keyIndex) get(k tkey) (int32, bool) {
	if k.s == "" {
		v, ok := x.ints[k.i]
		return v, ok
	}
	v, ok := x.strs[k.s]
	return v, ok
}

func (x *keyIndex) set(k tkey, v int32) {
	if k.s == "" {
		if x.ints == nil {
			x.ints = map[[2]int64]int32{}
		}
		x.ints[k.i] = v
		return
	}
	if x.strs == nil {
		x.strs = map[string]int32{}
	}
	x.strs[k.s] = v
}

// swap sets k's value to v and returns the previous one, if any.
func (x *keyIndex) swap(k tkey, v int32) (int32, bool) {
	old, ok := x.get(k)
	x.set(k, v)
	return old, ok
}

// reset empties the index, keeping its maps' room unless they grew far
// beyond want keys.
func (x *keyIndex) reset(want int) {
	if len(x.ints) > 8*want+64 {
		x.ints = nil
	} else {
		clear(x.ints)
	}
	if len(x.strs) > 8*want+64 {
		x.strs = nil
	} else {
		clear(x.strs)
	}
}
