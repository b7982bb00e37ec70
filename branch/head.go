package branch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/accretedb/accrete/konserve"
	"github.com/vmihailenco/msgpack/v5"
)

// Default is the branch a database is created on.
const Default = "main"

var headMagic = []byte("ACH1")

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidName reports whether name can name a branch: a plain word of
// letters, digits, '.', '_' and '-', not starting with punctuation.
func ValidName(name string) bool { return nameRE.MatchString(name) && !strings.Contains(name, "..") }

// Key returns the konserve key of a branch's head.
func Key(name string) string { return "branches/" + name + "/HEAD" }

// Head is the state of a branch as read from storage: the commit it names,
// inlined, and the version token a later Advance must present.
type Head struct {
	Branch  string
	Addr    konserve.Hash // address of Commit
	Commit  *Commit
	Version konserve.Version
}

type headRecord struct {
	Commit konserve.Hash `msgpack:"commit"`
	Body   []byte        `msgpack:"body"`  // the encoded commit, inlined
	Nonce  uint64        `msgpack:"nonce"` // keeps H3 true even when a branch is re-created at an old commit
}

func encodeHead(addr konserve.Hash, body []byte) ([]byte, error) {
	var nb [8]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, fmt.Errorf("branch: head nonce: %w", err)
	}
	var buf bytes.Buffer
	buf.Write(headMagic)
	if err := msgpack.NewEncoder(&buf).Encode(&headRecord{Commit: addr, Body: body, Nonce: binary.LittleEndian.Uint64(nb[:])}); err != nil {
		return nil, fmt.Errorf("branch: encode head: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeHead parses a head record, checking that the inlined commit hashes
// to the address it names.
func DecodeHead(data []byte) (konserve.Hash, *Commit, error) {
	if !bytes.HasPrefix(data, headMagic) {
		return konserve.Hash{}, nil, fmt.Errorf("branch: decode head: %w: bad magic", ErrFormat)
	}
	if err := checkLengths(data[len(headMagic):]); err != nil {
		return konserve.Hash{}, nil, fmt.Errorf("branch: decode head: %w: %v", ErrFormat, err)
	}
	var r headRecord
	if err := msgpack.NewDecoder(bytes.NewReader(data[len(headMagic):])).Decode(&r); err != nil {
		return konserve.Hash{}, nil, fmt.Errorf("branch: decode head: %w: %v", ErrFormat, err)
	}
	if konserve.HashOf(r.Body) != r.Commit {
		return konserve.Hash{}, nil, fmt.Errorf("branch: decode head: %w: inlined commit does not hash to %s", konserve.ErrCorrupt, r.Commit)
	}
	c, err := DecodeCommit(r.Body)
	if err != nil {
		return konserve.Hash{}, nil, err
	}
	return r.Commit, c, nil
}

// Read returns the head of branch name, or an error wrapping ErrNoBranch.
func Read(ctx context.Context, st *konserve.Store, name string) (*Head, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	data, v, err := st.ReadHead(ctx, Key(name))
	if err != nil {
		if errors.Is(err, konserve.ErrNotFound) {
			return nil, fmt.Errorf("branch %q: %w", name, ErrNoBranch)
		}
		return nil, fmt.Errorf("branch: read head %q: %w", name, err)
	}
	addr, c, err := DecodeHead(data)
	if err != nil {
		return nil, fmt.Errorf("branch %q: %w", name, err)
	}
	return &Head{Branch: name, Addr: addr, Commit: c, Version: v}, nil
}

// ReadIfChanged is the cheap poll of a watcher: it returns (nil, nil) when
// the head is still at version v.
func ReadIfChanged(ctx context.Context, st *konserve.Store, name string, v konserve.Version) (*Head, error) {
	data, nv, changed, err := st.ReadHeadIfChanged(ctx, Key(name), v)
	if err != nil {
		if errors.Is(err, konserve.ErrNotFound) {
			return nil, fmt.Errorf("branch %q: %w", name, ErrNoBranch)
		}
		return nil, fmt.Errorf("branch: poll head %q: %w", name, err)
	}
	if !changed {
		return nil, nil
	}
	addr, c, err := DecodeHead(data)
	if err != nil {
		return nil, fmt.Errorf("branch %q: %w", name, err)
	}
	return &Head{Branch: name, Addr: addr, Commit: c, Version: nv}, nil
}

// LoadCommit reads the commit stored at addr.
func LoadCommit(ctx context.Context, st *konserve.Store, addr konserve.Hash) (*Commit, error) {
	data, err := st.GetNode(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("branch: load commit %s: %w", addr, err)
	}
	c, err := DecodeCommit(data)
	if err != nil {
		return nil, fmt.Errorf("branch: commit %s: %w", addr, err)
	}
	return c, nil
}

// Advance stores commit c and moves branch name from old to it. old == nil
// creates the branch, which must not exist. The caller MUST have made every
// node c names durable first (H2). On a lost race it returns an error
// wrapping ErrConflict (and konserve.ErrConflict); the commit it stored is
// then an orphan for garbage collection, never deleted here.
func Advance(ctx context.Context, st *konserve.Store, name string, old *Head, c *Commit) (*Head, error) {
	return AdvanceWith(ctx, st, name, old, c, nil)
}

// AdvanceWith is Advance that first stores nodes (which c names, such as
// its log tail) together with the commit record, all in parallel, so a
// commit costs two sequential rounds: the objects, then the head.
func AdvanceWith(ctx context.Context, st *konserve.Store, name string, old *Head, c *Commit, nodes [][]byte) (*Head, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	body, err := EncodeCommit(c)
	if err != nil {
		return nil, err
	}
	addr := konserve.HashOf(body)
	data, ov, err := swapArgs(addr, body, old)
	if err != nil {
		return nil, err
	}
	// One call, so that a backend can write the head's bytes while the
	// objects are written; the head still moves only after they are all
	// durable (H2).
	_, v, err := st.PutNodesSwapHead(ctx, append(nodes[:len(nodes):len(nodes)], body), Key(name), ov, data)
	if err != nil {
		return nil, swapError(name, old, err)
	}
	return &Head{Branch: name, Addr: addr, Commit: c, Version: v}, nil
}

func swap(ctx context.Context, st *konserve.Store, name string, old *Head, addr konserve.Hash, body []byte, c *Commit) (*Head, error) {
	data, ov, err := swapArgs(addr, body, old)
	if err != nil {
		return nil, err
	}
	v, err := st.SwapHead(ctx, Key(name), ov, data)
	if err != nil {
		return nil, swapError(name, old, err)
	}
	return &Head{Branch: name, Addr: addr, Commit: c, Version: v}, nil
}

// swapArgs returns the head bytes naming commit addr (whose record is
// body) and the version the swap expects: old's, or none to create.
func swapArgs(addr konserve.Hash, body []byte, old *Head) ([]byte, konserve.Version, error) {
	data, err := encodeHead(addr, body)
	if err != nil {
		return nil, "", err
	}
	var ov konserve.Version
	if old != nil {
		ov = old.Version
	}
	return data, ov, nil
}

// swapError is the error of a failed store-and-swap of branch name from
// old.
func swapError(name string, old *Head, err error) error {
	if errors.Is(err, konserve.ErrConflict) {
		if old == nil {
			return fmt.Errorf("branch %q: %w", name, ErrExists)
		}
		return fmt.Errorf("branch %q: %w", name, ErrConflict)
	}
	return fmt.Errorf("branch: advance %q: %w", name, err)
}

// Create makes branch name point at the stored commit addr. It fails with
// ErrExists if the branch exists.
func Create(ctx context.Context, st *konserve.Store, name string, addr konserve.Hash) (*Head, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	body, err := st.GetNode(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("branch: create %q: %w", name, err)
	}
	c, err := DecodeCommit(body)
	if err != nil {
		return nil, fmt.Errorf("branch: create %q: %w", name, err)
	}
	return swap(ctx, st, name, nil, addr, body, c)
}

// Delete removes branch name. The commits it named stay until garbage
// collection finds them unreachable.
func Delete(ctx context.Context, st *konserve.Store, name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	if _, _, err := st.ReadHead(ctx, Key(name)); err != nil {
		if errors.Is(err, konserve.ErrNotFound) {
			return fmt.Errorf("branch %q: %w", name, ErrNoBranch)
		}
		return fmt.Errorf("branch: delete %q: %w", name, err)
	}
	if err := st.DeleteHead(ctx, Key(name)); err != nil {
		return fmt.Errorf("branch: delete %q: %w", name, err)
	}
	return nil
}

// List returns the names of all branches, sorted.
func List(ctx context.Context, st *konserve.Store) ([]string, error) {
	keys, err := st.ListHeads(ctx, "branches/")
	if err != nil {
		return nil, fmt.Errorf("branch: list: %w", err)
	}
	var names []string
	for _, k := range keys {
		k = strings.TrimPrefix(k, "branches/")
		if n, ok := strings.CutSuffix(k, "/HEAD"); ok && ValidName(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Walk calls fn for the commit at addr and then each first parent in turn,
// newest first, until fn returns false, an error occurs, or the first
// commit has been visited.
func Walk(ctx context.Context, st *konserve.Store, addr konserve.Hash, fn func(addr konserve.Hash, c *Commit) (bool, error)) error {
	for !addr.IsZero() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := LoadCommit(ctx, st, addr)
		if err != nil {
			return err
		}
		more, err := fn(addr, c)
		if err != nil || !more {
			return err
		}
		addr = c.Parent()
	}
	return nil
}
