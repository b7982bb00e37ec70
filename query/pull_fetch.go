package query

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/datom"
)

// pullSeeker is an optional interface of a Source: Datomic's seek-datoms, the
// datoms of index idx from the position of components onwards, to the end
// of the index, in order, until fn returns false. reader.DB has it.
//
// Pull and Entity use it to read many entities in one ordered pass instead
// of one index lookup each: the entities one level of a pull reaches (the
// children of a recursive pattern, the siblings an Entity's reference set
// holds) are usually close together in EAVT, because a transaction
// allocates the ids of the entities it creates together in sequence.
// Without it they fall back to one Datoms scan per entity.
type pullSeeker interface {
	SeekDatoms(ctx context.Context, idx datom.Index, components []any, fn func(datom.Datom) bool) error
}

// pullSeekChunker is pullSeeker a run of datoms at a time, as
// ChunkSource is Datoms: fn gets consecutive runs of what SeekDatoms would
// yield, valid only during the call. The fetcher prefers it: it then loops
// over each run in place instead of taking a callback per datom.
type pullSeekChunker interface {
	SeekDatomChunks(ctx context.Context, idx datom.Index, components []any, fn func([]datom.Datom) bool) error
}

// entityReader is an optional interface of a Source, preferred over
// pullSeeker: the datoms of a sorted set of entities (ds then more; more
// is empty unless keep), each handed over, with keep, as slices the caller
// may keep (they never change). reader.DB has it: the slices are views of
// its EAVT leaves, so reading an entity copies nothing, and the entities
// of one leaf take one descent of the tree. Entity keeps what it reads as
// it is; pull reads a level with one call.
type entityReader interface {
	EntityDatoms(ctx context.Context, ids []datom.ID, keep bool, fn func(k int, ds, more []datom.Datom) error) error
}

// fetchSkipBudget is how many datoms of unwanted entities a batched fetch
// reads through, between two wanted ones, before it seeks instead: about
// what one seek costs, so a gap costs at most twice the cheaper of the two.
// (A variable so that tests can make every gap a seek.)
var fetchSkipBudget = 48

// entityFetcher reads the EAVT datoms of sets of entities: one Datoms scan
// per entity, or, with a pullSeeker and more than one entity, ordered
// passes that read through short gaps and seek over long ones. It hands
// each entity's datoms to a callback as soon as they are complete, so it
// holds one entity at a time. It is not safe for concurrent use.
type entityFetcher struct {
	ctx    context.Context
	src    Source
	seek   pullSeeker      // nil when src has none
	chunks pullSeekChunker // nil when src has none
	ents   entityReader    // nil when src has none
	// kept: the datoms each gets may be kept (set by the user of the
	// fetcher; only an entityReader supports it). each then finds the
	// rest of the entity's datoms, if any, in more.
	kept bool
	more []datom.Datom

	// scan state, read by the callbacks (bound once, so a scan allocates
	// no closure)
	buf     []datom.Datom // the current entity's datoms
	exists  bool          // the current entity has datoms (maybe filtered out)
	ids     []datom.ID
	keep    []datom.ID // attributes to keep; nil keeps all
	each    func(k int, ds []datom.Datom, exists bool) error
	err     error // from each, which stopped the scan
	i       int   // next wanted id
	skipped int
	gapStop bool

	onSeek   func(datom.Datom) bool
	onChunk  func([]datom.Datom) bool
	onEntity func(datom.Datom) bool
	onRead   func(int, []datom.Datom, []datom.Datom) error
	comps    [1]any
}

func (f *entityFetcher) init(ctx context.Context, src Source) {
	f.ctx, f.src = ctx, src
	f.seek, _ = src.(pullSeeker)
	if f.chunks, _ = src.(pullSeekChunker); f.chunks != nil && f.seek == nil {
		f.seek = chunkSeeker{f.chunks}
	}
	f.ents, _ = src.(entityReader)
	if f.onSeek == nil { // (a reused fetcher keeps its bound callbacks)
		f.onSeek = f.seekDatom
		f.onChunk = f.seekChunk
		f.onEntity = f.entityDatom
		f.onRead = f.readEntity
	}
}

// reset makes f hold nothing of its last use (keeping its buffer's room
// and its callbacks), for a pool.
func (f *entityFetcher) reset() {
	clear(f.buf[:cap(f.buf)])
	*f = entityFetcher{
		buf:    f.buf[:0],
		onSeek: f.onSeek, onChunk: f.onChunk, onEntity: f.onEntity, onRead: f.onRead,
	}
}

// readEntity is the callback of an entityReader read: each on the whole
// entity (what keep leaves out, each skips itself).
func (f *entityFetcher) readEntity(k int, ds, more []datom.Datom) error {
	f.more = more
	exists := len(ds)+len(more) > 0
	if len(more) > 0 && !f.kept {
		// An entity across two leaves, for a user that wants one slice:
		// join the datoms it needs.
		f.buf = f.buf[:0]
		for _, part := range [2][]datom.Datom{ds, more} {
			for i := range part {
				if f.keep == nil || containsID(f.keep, part[i].A) {
					f.buf = append(f.buf, part[i])
				}
			}
		}
		ds, f.more = f.buf, nil
	}
	if f.err = f.each(k, ds, exists); f.err != nil {
		return f.err
	}
	return nil
}

// fetch reads the datoms of ids (sorted, distinct) and calls each, in
// order, once per id with its datoms (valid only during the call, unless
// f.kept) and whether the entity exists; an error from each is returned
// as it is. keep, when not nil, lists the attributes each needs: the
// others' datoms may be left out (with an entityReader they are not).
// each may make scans of its own.
func (f *entityFetcher) fetch(ids []datom.ID, keep []datom.ID, each func(k int, ds []datom.Datom, exists bool) error) error {
	f.ids, f.keep, f.each, f.err = ids, keep, each, nil
	defer func() { f.each = nil }()
	if f.ents != nil {
		// Always as views that may be kept: an entity across two leaves
		// then comes as two views, which readEntity joins for a user that
		// wants one slice, and only its wanted datoms, instead of the
		// reader copying all of them.
		err := f.ents.EntityDatoms(f.ctx, ids, true, f.onRead)
		switch {
		case err == nil:
			return nil
		case f.err != nil && err == f.err:
			return err
		}
		return fmt.Errorf("query: read entities from %d: %w", ids[0], err)
	}
	clear(f.buf)
	f.buf, f.exists = f.buf[:0], false
	if f.seek == nil || len(ids) == 1 {
		for i, e := range ids {
			f.i = i
			f.comps[0] = e
			if err := f.src.Datoms(f.ctx, datom.EAVT, f.comps[:], f.onEntity); err != nil {
				return fmt.Errorf("query: scan entity %d: %w", e, err)
			}
			if err := f.flush(); err != nil {
				return err
			}
		}
		return nil
	}
	f.i = 0
	for f.i < len(ids) {
		if err := f.ctx.Err(); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		f.skipped, f.gapStop = 0, false
		f.comps[0] = ids[f.i]
		var err error
		if f.chunks != nil {
			err = f.chunks.SeekDatomChunks(f.ctx, datom.EAVT, f.comps[:], f.onChunk)
		} else {
			err = f.seek.SeekDatoms(f.ctx, datom.EAVT, f.comps[:], f.onSeek)
		}
		if err != nil {
			return fmt.Errorf("query: scan entities from %d: %w", ids[f.i], err)
		}
		if f.err != nil {
			return f.err
		}
		if f.gapStop {
			continue // seek to ids[f.i]
		}
		// The scan ended (at the end of the index, or past the last id):
		// the current entity is complete and the rest have no datoms.
		for ; f.i < len(ids); f.i++ {
			if err := f.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// seekChunk is seekDatom for a run of datoms.
func (f *entityFetcher) seekChunk(ds []datom.Datom) bool {
	for i := range ds {
		d := &ds[i]
		if d.E != f.ids[f.i] {
			if !f.seekDatom(*d) {
				return false
			}
			continue
		}
		// The common case, inline: a datom of the wanted entity.
		f.skipped, f.exists = 0, true
		switch {
		case f.keep != nil && !containsID(f.keep, d.A):
		default:
			f.buf = append(f.buf, *d)
		}
	}
	return true
}

// chunkSeeker makes a pullSeekChunker a pullSeeker (for the test that a
// source can seek).
type chunkSeeker struct{ c pullSeekChunker }

func (s chunkSeeker) SeekDatoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	return s.c.SeekDatomChunks(ctx, idx, comps, func(ds []datom.Datom) bool {
		for _, d := range ds {
			if !fn(d) {
				return false
			}
		}
		return true
	})
}

// flush hands the current entity to each and empties the buffer.
func (f *entityFetcher) flush() error {
	err := f.each(f.i, f.buf, f.exists)
	f.buf, f.exists = f.buf[:0], false // (pull clears it when done)
	return err
}

// entityDatom collects one datom of a single-entity scan.
func (f *entityFetcher) entityDatom(d datom.Datom) bool {
	f.exists = true
	switch {
	case f.keep != nil && !containsID(f.keep, d.A):
	default:
		f.buf = append(f.buf, d)
	}
	return true
}

// seekDatom collects one datom of an ordered pass over f.ids.
func (f *entityFetcher) seekDatom(d datom.Datom) bool {
	for d.E > f.ids[f.i] {
		// Past the wanted entity: it is complete.
		if f.err = f.flush(); f.err != nil {
			return false
		}
		f.i++
		if f.i == len(f.ids) {
			return false
		}
	}
	if d.E < f.ids[f.i] {
		// An entity nobody asked for: read through a short gap, seek over
		// a long one.
		f.skipped++
		if f.skipped >= fetchSkipBudget {
			f.gapStop = true
			return false
		}
		return true
	}
	f.skipped = 0
	f.exists = true
	switch {
	case f.keep != nil && !containsID(f.keep, d.A):
	default:
		f.buf = append(f.buf, d)
	}
	return true
}

func containsID(ids []datom.ID, id datom.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
