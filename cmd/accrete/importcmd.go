package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

var importCmd = &command{
	name:     "import",
	synopsis: "URL FILE [--format edn|jsonl|csv] [--map COLUMN=:attr ...] [--batch N] [--schema-on-read]",
	summary:  "load EDN, JSON lines or CSV (or an export) in batches",
	help: `FILE is a path or - for stdin; its format comes from --format or the extension
(.edn; .jsonl, .ndjson, .json; .csv). The database is created when URL holds none.

EDN: a sequence of top-level values. An entity map is added to the current
batch; a vector is one transaction as written; the output of accrete export (a
vector that starts with {:accrete/export 1 …}) is replayed transaction by
transaction, entity ids mapped to tempids, with its :db/txInstant and metadata.
JSON lines: one JSON value per line, an object (an entity, batched) or an array
(one transaction); keys are attributes, strings starting with ':' keywords.
CSV: the first row names the columns; --map COLUMN=:attr (repeatable, or
comma-separated) maps columns to attributes, and without --map every column
must be named like an attribute (person/name). Each row is one new entity;
empty cells are skipped; cells are read as the attribute's type.

Entities are committed --batch at a time (default 1000). A batch of plain new
entities (declared attributes that are not refs or tuples, no :db/id) goes
through the writer's bulk path, several times faster; any other batch, or one
the bulk path refuses (an upsert through a unique identity), is transacted. A file is read twice:
first checked whole, so a malformed file changes nothing; a transaction that
fails midway leaves the batches before it committed, and the error names it.
Progress goes to stderr: a bar on a terminal, plain lines otherwise.`,
	run: runImport,
}

// mapFlags collects --map COLUMN=:attr flags.
type mapFlags []string

func (m *mapFlags) String() string { return strings.Join(*m, ",") }
func (m *mapFlags) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*m = append(*m, p)
		}
	}
	return nil
}

func runImport(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch to write (default main)")
	format := fs.String("format", "", "input format: edn, jsonl or csv (default: from the extension)")
	batch := fs.Int("batch", 1000, "entities per transaction")
	schemaOnRead := fs.Bool("schema-on-read", false, "create a schema-on-read database if URL holds none")
	var maps mapFlags
	fs.Var(&maps, "map", "CSV `COLUMN=:attr` (repeatable)")
	pos, err := c.parse(e, fs, args, 2, 2)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if ref.isView() {
		return fmt.Errorf("accrete import: %s: cannot write to a past or history view", ref.raw)
	}
	if *batch < 1 {
		return usagef("accrete import: --batch must be at least 1")
	}
	path := pos[1]
	f := *format
	if f == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".edn":
			f = "edn"
		case ".jsonl", ".ndjson", ".json":
			f = "jsonl"
		case ".csv":
			f = "csv"
		default:
			return usagef("accrete import: cannot tell the format of %q: give --format edn, jsonl or csv", path)
		}
	}
	if f != "edn" && f != "jsonl" && f != "csv" {
		return usagef("accrete import: unknown format %q (want edn, jsonl or csv)", f)
	}
	if len(maps) > 0 && f != "csv" {
		return usagef("accrete import: --map applies to CSV only")
	}
	colMap := map[string]edn.Keyword{}
	for _, m := range maps {
		col, attr, ok := strings.Cut(m, "=")
		if !ok || col == "" || strings.TrimPrefix(attr, ":") == "" {
			return usagef("accrete import: --map %q: want COLUMN=:attr", m)
		}
		colMap[col] = edn.Keyword(strings.TrimPrefix(attr, ":"))
	}

	im := &importer{ctx: ctx, e: e, ref: ref, format: f, colMap: colMap, batchSize: *batch,
		schemaOnRead: *schemaOnRead, ids: map[int64]int64{}}
	if path != "-" {
		// Pass 1: check the whole file, against the target's schema when it
		// exists, before writing anything.
		im.dry = true
		if db, st, err := openDB(ctx, ref); err == nil {
			im.schema = db.Schema()
			st.Close()
		}
		if err := im.runFile(path); err != nil {
			return fmt.Errorf("accrete import: %w", err)
		}
		*im = importer{ctx: ctx, e: e, ref: ref, format: f, colMap: colMap, batchSize: *batch,
			schemaOnRead: *schemaOnRead, ids: map[int64]int64{}}
		err = im.runFile(path)
	} else {
		err = im.run(e.stdin, -1)
	}
	if cerr := im.close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("accrete import: %w", err)
	}
	im.progress(true)
	return emit(e.stdout, edn.Map{
		{Key: edn.Keyword("transactions"), Val: im.nTx},
		{Key: edn.Keyword("entities"), Val: im.nEntities},
		{Key: edn.Keyword("datoms"), Val: im.nDatoms},
		{Key: edn.Keyword("t"), Val: im.lastT},
	}, false)
}

// importer feeds parsed input to a writer in batches.
type importer struct {
	ctx          context.Context
	e            *env
	ref          dbRef
	format       string
	colMap       map[string]edn.Keyword
	batchSize    int
	schemaOnRead bool
	dry          bool           // check only: nothing is written
	schema       *datom.Schema  // for CSV cell types in a dry run (nil: none)
	w            *writer.Writer // opened on the first commit
	closeW       func() error
	ids          map[int64]int64 // export ids → ids in the target
	// now is the :db/txInstant of the exported transaction being replayed
	// (zero otherwise). The writer's clock returns it, so that the new
	// database's first commit is not later than the history it receives.
	now time.Time

	pending                 edn.Vector
	nTx, nEntities, nDatoms int64
	lastT                   int64
	in                      *countingReader
	size                    int64
	lastReport              time.Time
	sawExport               bool
}

func (im *importer) runFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return im.run(f, size)
}

func (im *importer) run(r io.Reader, size int64) error {
	im.in = &countingReader{r: r}
	im.size = size
	var err error
	switch im.format {
	case "edn":
		err = im.readEDN(im.in)
	case "jsonl":
		err = im.readJSONL(im.in)
	case "csv":
		err = im.readCSV(im.in)
	}
	if err != nil {
		return err
	}
	return im.flush()
}

func (im *importer) close() error {
	if im.closeW == nil {
		return nil
	}
	err := im.closeW()
	im.closeW = nil
	return err
}

// writer opens (or creates) the target database on first use.
func (im *importer) writer() (*writer.Writer, error) {
	if im.w != nil {
		return im.w, nil
	}
	st, err := openStore(im.ctx, im.ref, false)
	if err != nil {
		return nil, err
	}
	clock := func() time.Time {
		if !im.now.IsZero() {
			return im.now
		}
		return time.Now()
	}
	w, err := writer.OpenStore(im.ctx, st, &writer.Options{Branch: im.ref.branch, Now: clock})
	if errors.Is(err, reader.ErrNoDatabase) || errors.Is(err, branch.ErrNoBranch) {
		w, err = writer.CreateStore(im.ctx, st, &writer.Options{Branch: im.ref.branch, SchemaOnRead: im.schemaOnRead, Now: clock})
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open %s: %w", im.ref, err)
	}
	im.w = w
	im.closeW = func() error { return errors.Join(w.Close(), st.Close()) }
	return w, nil
}

// currentSchema is the schema values are read against.
func (im *importer) currentSchema() *datom.Schema {
	if im.w != nil {
		return im.w.DB().Schema()
	}
	return im.schema
}

// entity adds one entity map to the batch.
func (im *importer) entity(m edn.Map) error {
	im.pending = append(im.pending, m)
	im.nEntities++
	if len(im.pending) >= im.batchSize {
		return im.flush()
	}
	return nil
}

// flush commits the pending batch.
func (im *importer) flush() error {
	if len(im.pending) == 0 {
		return nil
	}
	data := im.pending
	im.pending = nil
	if done, err := im.bulk(data); done || err != nil {
		return err
	}
	_, err := im.transact(data, "batch")
	return err
}

// bulk commits a batch of entity maps through the writer's bulk path
// (writer.Import) when every map is a plain new entity it can take: keys
// that are declared, non-ref, non-tuple attributes, no :db/id. It reports
// false, having written nothing, when the batch does not fit or the bulk
// path refuses it (say a unique identity value that Transact would
// upsert): Transact then commits it with its full semantics and errors.
func (im *importer) bulk(data edn.Vector) (bool, error) {
	if im.dry {
		return false, nil
	}
	w, err := im.writer()
	if err != nil {
		return false, err
	}
	ds, ok := entityDatoms(w.DB().Schema(), data)
	if !ok {
		return false, nil
	}
	rep, err := w.Import(im.ctx, ds)
	if errors.Is(err, reader.ErrBulk) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("batch %d (after %d committed transactions): %w", im.nTx+1, im.nTx, err)
	}
	im.nTx++
	im.nDatoms += int64(len(rep.TxData))
	im.lastT = rep.T
	im.progress(false)
	return true, nil
}

// entityDatoms turns entity maps into the datoms of new entities, entity
// k the tempid -(k+1), or reports false if a map holds anything but
// declared attributes of plain (non-ref, non-tuple) value types.
func entityDatoms(schema *datom.Schema, data edn.Vector) ([]datom.Datom, bool) {
	var ds []datom.Datom
	for k, x := range data {
		m, ok := x.(edn.Map)
		if !ok {
			return nil, false
		}
		e := -int64(k + 1)
		for _, kv := range m {
			kw, ok := kv.Key.(edn.Keyword)
			if !ok || strings.Contains(string(kw), "/_") {
				return nil, false
			}
			at := schema.AttrByIdent(kw)
			if at == nil || at.IsRef() || at.ValueType == datom.TypeTuple || at.ValueType == datom.TypeInvalid || len(at.TupleAttrs) > 0 {
				return nil, false
			}
			vals := []any{kv.Val}
			if at.Cardinality == datom.CardinalityMany {
				switch c := kv.Val.(type) {
				case edn.Vector:
					vals = c
				case edn.List:
					vals = c
				case edn.Set:
					vals = c
				case edn.Map:
					return nil, false
				}
			}
			for _, v := range vals {
				ds = append(ds, datom.Datom{E: e, A: at.ID, V: v, Added: true})
			}
		}
	}
	return ds, len(ds) > 0
}

// transact commits one transaction (nothing in a dry run).
func (im *importer) transact(data edn.Vector, what string) (*reader.Report, error) {
	if im.dry {
		im.nTx++
		return nil, nil
	}
	w, err := im.writer()
	if err != nil {
		return nil, err
	}
	rep, err := w.Transact(im.ctx, data)
	if err != nil {
		return nil, fmt.Errorf("%s %d (after %d committed transactions): %w", what, im.nTx+1, im.nTx, err)
	}
	im.nTx++
	im.nDatoms += int64(len(rep.TxData))
	im.lastT = rep.T
	im.progress(false)
	return rep, nil
}

// progress reports on stderr: a bar redrawn in place on a terminal, a
// plain line at most once a second otherwise. final ends the display.
func (im *importer) progress(final bool) {
	if im.dry || im.e.stderr == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(im.lastReport) < time.Second && !im.e.stderrTTY {
		return
	}
	if !final && im.e.stderrTTY && now.Sub(im.lastReport) < 100*time.Millisecond {
		return
	}
	im.lastReport = now
	read := int64(0)
	if im.in != nil {
		read = im.in.n
	}
	counts := fmt.Sprintf("%d transactions, %d entities, %d datoms", im.nTx, im.nEntities, im.nDatoms)
	if im.e.stderrTTY {
		bar := ""
		if im.size > 0 {
			const width = 30
			done := int(float64(read) / float64(im.size) * width)
			done = min(max(done, 0), width)
			bar = fmt.Sprintf("[%s%s] %3d%% ", strings.Repeat("=", done), strings.Repeat(" ", width-done), done*100/width)
		}
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(im.e.stderr, "\r\x1b[Kimport: %s%s%s", bar, counts, end)
		return
	}
	pct := ""
	if im.size > 0 {
		pct = fmt.Sprintf(" (%d%% of %d bytes)", read*100/im.size, im.size)
	}
	fmt.Fprintf(im.e.stderr, "import: %s%s\n", counts, pct)
}

// countingReader counts the bytes read, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// exportPrefix is how the output of export begins.
var exportPrefix = []byte("{:accrete/export")

// readEDN imports a stream of EDN values, or the single vector export prints.
func (im *importer) readEDN(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(256)
	var src io.Reader = br
	if t := bytes.TrimLeft(head, " \t\r\n,"); len(t) > 0 && t[0] == '[' &&
		bytes.HasPrefix(bytes.TrimLeft(t[1:], " \t\r\n,"), exportPrefix) {
		// Drop the outer brackets so that the transactions stream one by one.
		skip := len(head) - len(t) + 1
		if _, err := br.Discard(skip); err != nil {
			return err
		}
		src = &unwrapReader{r: br}
	}
	dec := edn.NewDecoder(src)
	for n := 1; ; n++ {
		v, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("EDN value %d: %w", n, err)
		}
		if err := im.ednValue(v, n); err != nil {
			return err
		}
	}
}

func (im *importer) ednValue(v any, n int) error {
	switch x := v.(type) {
	case edn.Map:
		if _, ok := mapGet(x, "accrete/export"); ok {
			if im.nTx > 0 || len(im.pending) > 0 {
				return fmt.Errorf("EDN value %d: an export header must come first", n)
			}
			ver, _ := mapGet(x, "accrete/export")
			if ver != int64(exportVersion) {
				return fmt.Errorf("EDN value %d: export format %s is not supported (want %d)", n, edn.String(ver), exportVersion)
			}
			if sor, ok := mapGet(x, "schema-on-read"); ok && sor == true {
				im.schemaOnRead = true
			}
			im.sawExport = true
			return nil
		}
		if im.sawExport {
			return im.exportTx(x, n)
		}
		return im.entity(x)
	case edn.Vector:
		if err := im.flush(); err != nil {
			return err
		}
		_, err := im.transact(x, "transaction")
		return err
	}
	return fmt.Errorf("EDN value %d: want an entity map or a transaction vector, got %s", n, truncate(edn.String(v)))
}

// exportTx replays one transaction of an export, mapping entity ids.
func (im *importer) exportTx(m edn.Map, n int) error {
	if err := im.flush(); err != nil {
		return err
	}
	rawData, _ := mapGet(m, "data")
	data, ok := rawData.(edn.Vector)
	oldTx, ok2 := mapGet(m, "tx")
	oldTxID, ok3 := oldTx.(int64)
	if !ok || !ok2 || !ok3 {
		return fmt.Errorf("EDN value %d: an exported transaction is {:t T :tx ID :data [...]}", n)
	}
	if im.dry {
		for _, f := range data {
			if fv, ok := f.(edn.Vector); !ok || len(fv) != 4 {
				return fmt.Errorf("EDN value %d: exported datom %s is not [op e a v]", n, truncate(edn.String(f)))
			}
		}
		_, err := im.transact(nil, "transaction")
		return err
	}
	im.now = time.Time{}
	for _, f := range data {
		if fv, ok := f.(edn.Vector); ok && len(fv) == 4 && fv[1] == txTempID && fv[2] == edn.Keyword("db/txInstant") {
			im.now, _ = fv[3].(time.Time)
		}
	}
	if _, err := im.writer(); err != nil {
		return err
	}
	s := im.currentSchema()
	mapID := func(id int64) any {
		switch {
		case id == oldTxID:
			return txTempID
		case datom.IsReserved(id):
			return id
		}
		if nid, ok := im.ids[id]; ok {
			return nid
		}
		return "e" + strconv.FormatInt(id, 10)
	}
	// Under schema-on-read an attribute is installed by its first use; the
	// export shows that as explicit :db/ident and :db/cardinality datoms,
	// which the import leaves to the same mechanism.
	used := map[edn.Keyword]bool{}
	for _, f := range data {
		if fv, ok := f.(edn.Vector); ok && len(fv) == 4 {
			if a, ok := fv[2].(edn.Keyword); ok {
				used[a] = true
			}
		}
	}
	autoAttr := map[int64]edn.Keyword{}
	if s.SchemaOnRead() {
		for _, f := range data {
			fv, _ := f.(edn.Vector)
			if len(fv) == 4 && fv[2] == edn.Keyword("db/ident") {
				e, _ := fv[1].(int64)
				k, _ := fv[3].(edn.Keyword)
				if _, known := im.ids[e]; !known && used[k] && s.AttrByIdent(k) == nil {
					autoAttr[e] = k
				}
			}
		}
	}
	out := make(edn.Vector, 0, len(data))
	for _, f := range data {
		fv, ok := f.(edn.Vector)
		if !ok || len(fv) != 4 {
			return fmt.Errorf("EDN value %d: exported datom %s is not [op e a v]", n, truncate(edn.String(f)))
		}
		op, e, a, v := fv[0], fv[1], fv[2], fv[3]
		kw, _ := a.(edn.Keyword)
		if id, ok := e.(int64); ok {
			if _, auto := autoAttr[id]; auto && (kw == "db/ident" || kw == "db/cardinality") {
				continue
			}
			e = mapID(id)
		}
		if attr := s.AttrByIdent(kw); attr != nil && attr.IsRef() {
			if id, ok := v.(int64); ok {
				v = mapID(id)
			}
		}
		out = append(out, edn.Vector{op, e, a, v})
	}
	rep, err := im.transact(out, "transaction")
	if err != nil {
		return err
	}
	for k, id := range rep.TempIDs.All() {
		if ks, ok := k.(string); ok && strings.HasPrefix(ks, "e") {
			if old, err := strconv.ParseInt(ks[1:], 10, 64); err == nil {
				im.ids[old] = id
			}
		}
	}
	im.ids[oldTxID] = rep.TxID
	ns := im.w.DB().Schema()
	for old, k := range autoAttr {
		if a := ns.AttrByIdent(k); a != nil {
			im.ids[old] = a.ID
		}
	}
	for k := range rep.TempIDs.All() {
		if k != txTempID {
			im.nEntities++
		}
	}
	return nil
}

// readJSONL imports one JSON value per line.
func (im *importer) readJSONL(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		v, err := decodeJSON(text)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		switch x := v.(type) {
		case edn.Map:
			err = im.entity(x)
		case edn.Vector:
			if err = im.flush(); err == nil {
				_, err = im.transact(x, "transaction")
			}
		default:
			err = fmt.Errorf("line %d: want an object or an array", line)
		}
		if err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// readCSV imports one entity per row.
func (im *importer) readCSV(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CSV header: %w", err)
	}
	header = append([]string(nil), header...) // ReuseRecord reuses its slice
	attrs := make([]edn.Keyword, len(header))
	mapped := 0
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case len(im.colMap) > 0:
			attrs[i] = im.colMap[h]
		case strings.Contains(strings.TrimPrefix(h, ":"), "/"):
			attrs[i] = edn.Keyword(strings.TrimPrefix(h, ":"))
		default:
			return fmt.Errorf("CSV column %q names no attribute: give --map %s=:ns/attr", h, h)
		}
		if attrs[i] != "" {
			mapped++
		}
	}
	for col := range im.colMap {
		found := false
		for _, h := range header {
			found = found || strings.TrimSpace(h) == col
		}
		if !found {
			return fmt.Errorf("--map names column %q, which the CSV header lacks", col)
		}
	}
	if mapped == 0 {
		return fmt.Errorf("no CSV column maps to an attribute")
	}
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("CSV: %w", err)
		}
		m := make(edn.Map, 0, mapped)
		for i, cell := range rec {
			if i >= len(attrs) || attrs[i] == "" || cell == "" {
				continue
			}
			v, err := csvValue(im.currentSchema(), attrs[i], cell)
			if err != nil {
				return fmt.Errorf("CSV row %d, column %q: %w", row, header[i], err)
			}
			m = append(m, edn.MapEntry{Key: attrs[i], Val: v})
		}
		if len(m) == 0 {
			continue
		}
		if err := im.entity(m); err != nil {
			return err
		}
	}
}

// csvValue reads a CSV cell as a value of attribute a: verbatim for strings,
// RFC 3339 for instants, a keyword with or without ':', and EDN otherwise.
// Without a schema entry, numbers and booleans are read as such and anything
// else is a string.
func csvValue(s *datom.Schema, a edn.Keyword, cell string) (any, error) {
	var attr *datom.Attribute
	if s != nil {
		attr = s.AttrByIdent(a)
	}
	if attr == nil || attr.ValueType == datom.TypeInvalid {
		if v, err := edn.ReadString(cell); err == nil {
			switch v.(type) {
			case int64, float64, bool:
				return v, nil
			}
		}
		return cell, nil
	}
	switch attr.ValueType {
	case datom.TypeString:
		return cell, nil
	case datom.TypeKeyword:
		return edn.Keyword(strings.TrimPrefix(cell, ":")), nil
	case datom.TypeInstant:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
			if tm, err := time.Parse(layout, cell); err == nil {
				return tm, nil
			}
		}
	}
	v, err := edn.ReadString(cell)
	if err != nil {
		return nil, fmt.Errorf("%q is not a %s", cell, attr.ValueType.Ident())
	}
	cv, err := attr.Coerce(v)
	if err != nil {
		return nil, fmt.Errorf("%q is not a %s", cell, attr.ValueType.Ident())
	}
	return cv, nil
}

// mapGet returns the value of keyword key in m.
func mapGet(m edn.Map, key edn.Keyword) (any, bool) {
	for _, me := range m {
		if me.Key == key {
			return me.Val, true
		}
	}
	return nil, false
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// unwrapReader passes its input through except for the last ']' (and the
// whitespace after it): the closing bracket of the vector export prints,
// whose opening bracket the caller already skipped.
type unwrapReader struct {
	r    io.Reader
	held []byte // bytes that may be the closing bracket and trailing space
	buf  []byte
	out  []byte
	eof  bool
	err  error
}

func (u *unwrapReader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.eof {
			return 0, u.err
		}
		if u.buf == nil {
			u.buf = make([]byte, 32<<10)
		}
		n, err := u.r.Read(u.buf)
		u.held = append(u.held, u.buf[:n]...)
		if err != nil {
			u.eof = true
			u.err = err
			if errors.Is(err, io.EOF) {
				end := bytes.TrimRight(u.held, " \t\r\n,")
				if len(end) == 0 || end[len(end)-1] != ']' {
					u.err = fmt.Errorf("export: missing the closing ] of the vector")
					u.out = u.held
				} else {
					u.out = end[:len(end)-1]
				}
				u.held = nil
				continue
			}
			u.out, u.held = u.held, nil
			continue
		}
		// Release everything but a trailing run of ']' and blanks.
		cut := len(u.held)
		for cut > 0 && strings.IndexByte("] \t\r\n,", u.held[cut-1]) >= 0 {
			cut--
		}
		u.out = append(u.out[:0], u.held[:cut]...)
		u.held = append(u.held[:0], u.held[cut:]...)
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	if len(u.out) == 0 && u.eof {
		return n, u.err
	}
	return n, nil
}
