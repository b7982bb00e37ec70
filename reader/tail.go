package reader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/accretedb/accrete/datom"
)

// The log tail node: the transactions committed since the trees were last
// merged, oldest first, each with the datoms it asserted and retracted and
// the stored datoms its retractions removed (with their original tx, which
// the overlay needs to hide them in the trees).
//
//	tail    = "ACT1" tx*
//	tx      = uvarint(t) uvarint(len(datoms)) datoms uvarint(len(removed)) removed
//	datoms  = datom.EncodeDatoms(...)
//
// Each tx's bytes are made once, when it is committed, and the node of the
// next commit is the previous node's bytes plus the new ones.
var tailMagic = []byte("ACT1")

// ErrTailFormat is returned when a log tail node cannot be decoded.
var ErrTailFormat = errors.New("reader: malformed log tail")

func encodeTailTx(t *tailTx) ([]byte, error) {
	ds, err := datom.EncodeDatoms(t.datoms)
	if err != nil {
		return nil, err
	}
	rs, err := datom.EncodeDatoms(t.retracted)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(ds)+len(rs)+24)
	b = binary.AppendUvarint(b, uint64(t.t))
	b = binary.AppendUvarint(b, uint64(len(ds)))
	b = append(b, ds...)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	b = append(b, rs...)
	return b, nil
}

// encodeTail returns the tail node of txs, encoding each tx that has not
// been encoded yet (and remembering its bytes).
//
// Only the writer's committer calls it, one commit at a time, so filling in
// enc on the shared tailTx values does not race.
func encodeTail(txs []*tailTx) ([]byte, error) {
	n := len(tailMagic)
	for _, t := range txs {
		if t.enc == nil {
			enc, err := encodeTailTx(t)
			if err != nil {
				return nil, fmt.Errorf("reader: encode tail tx %d: %w", t.t, err)
			}
			t.enc = enc
		}
		n += len(t.enc)
	}
	// Sized once: the node is rewritten whole on every commit and grows
	// to several times the tail threshold, so growing a buffer by
	// doubling copied it about twice over.
	buf := make([]byte, 0, n)
	buf = append(buf, tailMagic...)
	for _, t := range txs {
		buf = append(buf, t.enc...)
	}
	return buf, nil
}

func decodeTail(data []byte) ([]tailTx, error) {
	if !bytes.HasPrefix(data, tailMagic) {
		return nil, fmt.Errorf("%w: bad magic", ErrTailFormat)
	}
	p := data[len(tailMagic):]
	var out []tailTx
	for len(p) > 0 {
		start := p
		t, n := binary.Uvarint(p)
		if n <= 0 || t > 1<<42 {
			return nil, fmt.Errorf("%w: bad t at tx %d", ErrTailFormat, len(out))
		}
		p = p[n:]
		var parts [2][]datom.Datom
		for k := range parts {
			l, n := binary.Uvarint(p)
			if n <= 0 || l > uint64(len(p)-n) {
				return nil, fmt.Errorf("%w: bad length in tx %d", ErrTailFormat, t)
			}
			p = p[n:]
			ds, err := datom.DecodeDatoms(p[:l])
			if err != nil {
				return nil, fmt.Errorf("%w: tx %d: %w", ErrTailFormat, t, err)
			}
			parts[k] = ds
			p = p[l:]
		}
		enc := start[:len(start)-len(p)]
		out = append(out, tailTx{t: int64(t), datoms: parts[0], retracted: parts[1], enc: enc})
	}
	return out, nil
}
