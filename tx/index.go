package tx

import (
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/accretedb/accrete/datom"
)

// smallIndex is how many entries the indexes below search linearly before
// they build a map: most transactions are a handful of facts, for which a
// scan is cheaper than hashing (and allocates nothing).
const smallIndex = 16

// factIndex finds facts (e, a, v) by value: linearly while small, then
// through a hash of the encoded fact. Values are equal under
// datom.CompareValues, which is what their encoded keys compare, so equal
// facts hash alike; facts whose hashes collide are told apart by
// comparing them.
type factIndex struct {
	// small holds every entry, in the order put; past smallIndex entries
	// m indexes them.
	small []factEntry
	// m maps the hash of a fact to 1 + the index in small of the latest
	// entry with that hash; entries with equal hashes chain through next.
	// It is keyed by a hash rather than by the encoded fact, which would
	// allocate a string for every fact a large transaction holds.
	m    map[uint64]int32
	kbuf []byte
	// spare is room for smallIndex entries, kept from an earlier
	// transaction (see txn.release), that small grows into past its
	// inline room.
	spare []factEntry
	// expect is how many entries the index expects, if known: the room
	// its hashed phase starts with.
	expect int
}

type factEntry struct {
	e, a datom.ID
	v    any
	i    int32
	next int32 // 1 + index in small of the previous entry with this hash; 0: none
}

// factSeed seeds the hashes of factIndex (immutable after init);
// factHashMask is all ones but in tests that force collisions.
var (
	factSeed     = maphash.MakeSeed()
	factHashMask = ^uint64(0)
)

// hash returns the hash of fact (e, a, v), the hash of its encoded key
// (kept in x.kbuf until the next call).
func (x *factIndex) hash(e, a datom.ID, v any) uint64 {
	b := binary.BigEndian.AppendUint64(x.kbuf[:0], uint64(e))
	b = binary.BigEndian.AppendUint64(b, uint64(a))
	b = datom.AppendValueKey(b, v)
	x.kbuf = b
	return maphash.Bytes(factSeed, b) & factHashMask
}

// get returns the index stored for fact (e, a, v).
func (x *factIndex) get(e, a datom.ID, v any) (int32, bool) {
	if x.m != nil {
		for j := x.m[x.hash(e, a, v)]; j != 0; {
			f := &x.small[j-1]
			if f.e == e && f.a == a && datom.CompareValues(f.v, v) == 0 {
				return f.i, true
			}
			j = f.next
		}
		return 0, false
	}
	for k := range x.small {
		f := &x.small[k]
		if f.e == e && f.a == a && datom.CompareValues(f.v, v) == 0 {
			return f.i, true
		}
	}
	return 0, false
}

// put stores index i for fact (e, a, v), which get does not find.
func (x *factIndex) put(e, a datom.ID, v any, i int32) {
	if x.m == nil && len(x.small) < smallIndex {
		if len(x.small) == cap(x.small) {
			// Past the inline room: grow once, to the linear limit.
			grown := x.spare[:0]
			if cap(grown) < smallIndex {
				grown = make([]factEntry, 0, smallIndex)
			}
			x.small, x.spare = append(grown, x.small...), nil
		}
		x.small = append(x.small, factEntry{e: e, a: a, v: v, i: i})
		return
	}
	if x.m == nil {
		// Leave the linear room as it is (spare, kept for the next
		// transaction) and index a copy.
		n := max(x.expect, 4*smallIndex)
		all := make([]factEntry, len(x.small), n)
		copy(all, x.small)
		if cap(x.small) == smallIndex { // not the inline room
			clear(x.small)
			x.spare = x.small[:0]
		}
		x.small = all
		x.m = make(map[uint64]int32, n)
		for k := range x.small {
			f := &x.small[k]
			h := x.hash(f.e, f.a, f.v)
			f.next = x.m[h]
			x.m[h] = int32(k) + 1
		}
	}
	h := x.hash(e, a, v)
	x.small = append(x.small, factEntry{e: e, a: a, v: v, i: i, next: x.m[h]})
	x.m[h] = int32(len(x.small))
}

// release empties x for the next transaction: it drops its map and
// keeps, cleared, the room small grew into past its inline entries (see
// spare); the caller clears the inline entries.
func (x *factIndex) release() {
	if x.m == nil && cap(x.small) == smallIndex { // not the inline room
		clear(x.small)
		x.spare = x.small[:0]
	}
	x.small = nil // a map's entries go with it
	if x.m != nil {
		x.m = nil
	}
	x.kbuf = x.kbuf[:0]
	x.expect = 0
}

// eaIndex finds (entity, attribute) pairs, linearly while small.
type eaIndex struct {
	small []eaEntry
	m     map[eaKey]int32
}

type eaEntry struct {
	k eaKey
	i int32
}

func (x *eaIndex) get(k eaKey) (int32, bool) {
	if x.m != nil {
		i, ok := x.m[k]
		return i, ok
	}
	for _, en := range x.small {
		if en.k == k {
			return en.i, true
		}
	}
	return 0, false
}

func (x *eaIndex) put(k eaKey, i int32) {
	if x.m == nil && len(x.small) < smallIndex {
		x.small = append(x.small, eaEntry{k, i})
		return
	}
	if x.m == nil {
		x.m = make(map[eaKey]int32, 2*smallIndex)
		for _, en := range x.small {
			x.m[en.k] = en.i
		}
		x.small = nil
	}
	x.m[k] = i
}

// idSet is a set of entity ids, linear while small.
type idSet struct {
	small []datom.ID
	m     map[datom.ID]struct{}
}

// add adds id and reports whether it was not in the set yet.
func (s *idSet) add(id datom.ID) bool {
	if s.m == nil {
		if slices.Contains(s.small, id) {
			return false
		}
		if len(s.small) < smallIndex {
			s.small = append(s.small, id)
			return true
		}
		s.m = make(map[datom.ID]struct{}, 2*smallIndex)
		for _, x := range s.small {
			s.m[x] = struct{}{}
		}
	}
	if _, ok := s.m[id]; ok {
		return false
	}
	s.m[id] = struct{}{}
	return true
}

// reset empties s, keeping its room.
func (s *idSet) reset() {
	s.small = s.small[:0]
	if s.m != nil {
		s.m = nil
	}
}
