package branch

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/accretedb/accrete/konserve"
	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the version of the commit record encoding. Decoding a
// record of another version fails with ErrFormat.
const FormatVersion = 1

// commitMagic starts every encoded commit, so a commit is never mistaken
// for an index node stored in the same key space.
var commitMagic = []byte("ACC1")

// Root names the root node of one index tree.
type Root struct {
	Name  string        `msgpack:"n"`
	Addr  konserve.Hash `msgpack:"a"`
	Count int64         `msgpack:"c"` // datoms in the tree, for planners and stats
	Depth int           `msgpack:"d"`
}

// Stats are statistics of a commit's stored index trees, kept so that a
// reader can estimate a query's clauses without fetching index nodes.
type Stats struct {
	// Attrs holds, for each attribute with datoms in the stored current
	// AEVT tree (the log tail not included), how many it has, sorted by
	// attribute id. An attribute that is absent has none.
	Attrs []AttrCount `msgpack:"attrs"`
}

// AttrCount is the number of datoms of attribute A. It is encoded as a
// two-element array, without field names: a commit holds one per
// attribute in use, and the head repeats the commit.
type AttrCount struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int64
	N        int64
}

// Commit is one immutable state of a database. Its address is the BLAKE3
// hash of its encoding.
type Commit struct {
	Format       int             `msgpack:"format"`
	DBID         string          `msgpack:"db"`     // random id chosen when the database was created
	Branch       string          `msgpack:"branch"` // the branch it was committed on
	Seq          uint64          `msgpack:"seq"`    // parent's Seq + 1
	Parents      []konserve.Hash `msgpack:"parents"`
	Roots        []Root          `msgpack:"roots"`
	Tail         konserve.Hash   `msgpack:"tail"` // zero when the log tail is empty
	TailDatoms   int64           `msgpack:"tail_datoms"`
	TailBytes    int64           `msgpack:"tail_bytes"`
	Schema       []byte          `msgpack:"schema"` // encoded by the database layer
	SchemaOnRead bool            `msgpack:"schema_on_read"`
	BasisT       int64           `msgpack:"basis_t"` // t of the newest transaction
	NextUser     int64           `msgpack:"next_user"`
	NextDB       int64           `msgpack:"next_db"`
	TxTs         []int64         `msgpack:"tx_ts"` // the transactions this commit added
	Writer       string          `msgpack:"writer"`
	GCGen        uint64          `msgpack:"gc_gen"`
	WallTime     int64           `msgpack:"wall_ms"` // informational: unix milliseconds
	TxInstant    int64           `msgpack:"tx_instant_ms"`
	// Stats, when not nil, describe the stored trees (see Stats). Commits
	// made before accrete kept them, and commits after an operation that
	// could not keep them exactly, have none: planners then count in the
	// index itself.
	Stats *Stats `msgpack:"stats,omitempty"`
}

// Root returns the root named name and whether the commit has it.
func (c *Commit) Root(name string) (Root, bool) {
	for _, r := range c.Roots {
		if r.Name == name {
			return r, true
		}
	}
	return Root{}, false
}

// Parent returns the first parent, or the zero hash for the first commit.
func (c *Commit) Parent() konserve.Hash {
	if len(c.Parents) == 0 {
		return konserve.Hash{}
	}
	return c.Parents[0]
}

// EncodeCommit returns the deterministic encoding of c.
func EncodeCommit(c *Commit) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(commitMagic)
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("branch: encode commit: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeCommit parses an encoded commit. Malformed input gives an error
// wrapping ErrFormat, never a panic.
func DecodeCommit(data []byte) (*Commit, error) {
	if !bytes.HasPrefix(data, commitMagic) {
		return nil, fmt.Errorf("branch: decode commit: %w: bad magic", ErrFormat)
	}
	if err := checkLengths(data[len(commitMagic):]); err != nil {
		return nil, fmt.Errorf("branch: decode commit: %w: %v", ErrFormat, err)
	}
	var c Commit
	dec := msgpack.NewDecoder(bytes.NewReader(data[len(commitMagic):]))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("branch: decode commit: %w: %v", ErrFormat, err)
	}
	if c.Format != FormatVersion {
		return nil, fmt.Errorf("branch: decode commit: %w: version %d, want %d", ErrFormat, c.Format, FormatVersion)
	}
	return &c, nil
}

// Sentinel errors.
var (
	// ErrFormat is returned when a commit or head record cannot be decoded.
	ErrFormat = errors.New("branch: malformed record")
	// ErrNoBranch is returned when a branch head does not exist.
	ErrNoBranch = errors.New("branch: no such branch")
	// ErrExists is returned when creating a branch that exists.
	ErrExists = errors.New("branch: branch exists")
	// ErrConflict is returned by Advance when another writer moved the head
	// first. It wraps konserve.ErrConflict.
	ErrConflict = fmt.Errorf("branch: head moved: %w", konserve.ErrConflict)
	// ErrBadName is returned for a branch name that is not a plain word.
	ErrBadName = errors.New("branch: invalid branch name")
)
