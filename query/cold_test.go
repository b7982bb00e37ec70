package query_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// Cold selective queries (issue 4, "Execution"): a reader that has never
// seen the database answers a selective query by fetching the nodes on the
// paths it descends, not the index. Each query runs on a fresh store (an
// empty cache), so every node it needs is a GET.

const coldSchema = `[
 {:db/ident :p/id    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :p/age   :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/score :db/valueType :db.type/double :db/cardinality :db.cardinality/one}]`

// coldDatomsPerEntity is how many datoms coldImport gives each person.
const coldDatomsPerEntity = 5

// coldImport creates a database of people at url: the schema, then
// entities persons of coldDatomsPerEntity datoms each, imported through the
// bulk path in batches with index nodes width wide (0: the bulk default).
func coldImport(tb testing.TB, url string, entities, width int) {
	tb.Helper()
	ctx := context.Background()
	w, err := writer.Create(ctx, url, &writer.Options{BulkWidth: width})
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, coldSchema); err != nil {
		tb.Fatal(err)
	}
	s := w.DB().Schema()
	var attrs [coldDatomsPerEntity]datom.ID
	for i, id := range []edn.Keyword{"p/id", "p/name", "p/age", "p/email", "p/score"} {
		attrs[i] = s.AttrByIdent(id).ID
	}
	const batch = 100_000 // entities per import transaction
	for lo := 0; lo < entities; lo += batch {
		hi := min(lo+batch, entities)
		ds := make([]datom.Datom, 0, (hi-lo)*coldDatomsPerEntity)
		for i := lo; i < hi; i++ {
			e := datom.ID(-(i - lo + 1))
			ds = append(ds,
				datom.Datom{E: e, A: attrs[0], V: int64(i), Added: true},
				datom.Datom{E: e, A: attrs[1], V: coldName(i), Added: true},
				datom.Datom{E: e, A: attrs[2], V: int64(i % 97), Added: true},
				datom.Datom{E: e, A: attrs[3], V: fmt.Sprintf("p%d@example.org", i), Added: true},
				datom.Datom{E: e, A: attrs[4], V: float64(i%1000) / 10, Added: true})
		}
		if _, err := w.Import(ctx, ds); err != nil {
			tb.Fatalf("import of persons %d–%d: %v", lo, hi-1, err)
		}
	}
}

func coldName(i int) string { return fmt.Sprintf("name-%09d", i) }

// coldQuery is one selective query of the cold tests: run on db, it
// returns an error if the answer is not the one for person i.
type coldQuery struct {
	name string
	run  func(ctx context.Context, db *reader.DB, i int) error
	// more is how many leaves past one path the query may read: a range
	// may span two leaves.
	more int64
}

// coldRangeLen is how many persons the range query asks for.
const coldRangeLen = 8

var coldQueries = []coldQuery{
	{name: "unique-join", run: func(ctx context.Context, db *reader.DB, i int) error {
		// A unique value (AVET), then two attributes of the entity found.
		r, err := query.Q(ctx, `[:find ?n ?a :in $ ?id :where [?e :p/id ?id] [?e :p/name ?n] [?e :p/age ?a]]`, db, int64(i))
		if err != nil {
			return err
		}
		rel := r.(query.Relation)
		if len(rel) != 1 || rel[0][0] != coldName(i) || rel[0][1] != int64(i%97) {
			return fmt.Errorf("got %v, want [[%q %d]]", rel, coldName(i), i%97)
		}
		return nil
	}},
	{name: "indexed-value", run: func(ctx context.Context, db *reader.DB, i int) error {
		// An indexed (non-unique) value, then the entity's unique id.
		r, err := query.Q(ctx, `[:find ?id . :in $ ?n :where [?e :p/name ?n] [?e :p/id ?id]]`, db, coldName(i))
		if err != nil {
			return err
		}
		if r != int64(i) {
			return fmt.Errorf("got %v, want %d", r, i)
		}
		return nil
	}},
	{name: "id-range", more: 1, run: func(ctx context.Context, db *reader.DB, i int) error {
		// A range of a unique long, pushed down into AVET with both
		// bounds: the scan ends where the range does.
		r, err := query.Q(ctx, `[:find [?id ...] :in $ ?lo ?hi :where [?e :p/id ?id] [(>= ?id ?lo)] [(< ?id ?hi)]]`, db, int64(i), int64(i+coldRangeLen))
		if err != nil {
			return err
		}
		// The callers pick i so that the whole range is persons.
		ids := r.([]any)
		if len(ids) != coldRangeLen {
			return fmt.Errorf("got %d ids %v, want those of [%d, %d)", len(ids), ids, i, i+coldRangeLen)
		}
		for _, id := range ids {
			if x, ok := id.(int64); !ok || x < int64(i) || x >= int64(i+coldRangeLen) {
				return fmt.Errorf("got id %v, want one of [%d, %d)", id, i, i+coldRangeLen)
			}
		}
		return nil
	}},
	{name: "name-range", more: 1, run: func(ctx context.Context, db *reader.DB, i int) error {
		// A range of an indexed string with an inclusive upper bound,
		// pushed down into AVET: the scan ends at the value just above it.
		r, err := query.Q(ctx, `[:find [?n ...] :in $ ?lo ?hi :where [?e :p/name ?n] [(>= ?n ?lo)] [(<= ?n ?hi)]]`, db, coldName(i), coldName(i+coldRangeLen-1))
		if err != nil {
			return err
		}
		names := r.([]any)
		if len(names) != coldRangeLen {
			return fmt.Errorf("got %d names %v, want those of persons [%d, %d)", len(names), names, i, i+coldRangeLen)
		}
		for _, n := range names {
			if s, ok := n.(string); !ok || s < coldName(i) || s > coldName(i+coldRangeLen-1) {
				return fmt.Errorf("got name %v, want one of persons [%d, %d)", n, i, i+coldRangeLen)
			}
		}
		return nil
	}},
	{name: "pull-lookup-ref", run: func(ctx context.Context, db *reader.DB, i int) error {
		m, err := query.Pull(ctx, db, `[:p/email :p/score]`, edn.Vector{edn.Keyword("p/id"), int64(i)})
		if err != nil {
			return err
		}
		if m[edn.Keyword("p/email")] != fmt.Sprintf("p%d@example.org", i) || m[edn.Keyword("p/score")] != float64(i%1000)/10 {
			return fmt.Errorf("got %v", m)
		}
		return nil
	}},
}

// coldRun opens the database at url on a fresh store, runs q for person i
// and returns the store's statistics and the branch head it read.
func coldRun(ctx context.Context, url string, q coldQuery, i int) (konserve.Stats, *branch.Head, error) {
	st, err := konserve.Open(ctx, url, nil)
	if err != nil {
		return konserve.Stats{}, nil, err
	}
	defer st.Close()
	db, err := reader.OpenStore(ctx, st, nil)
	if err != nil {
		return konserve.Stats{}, nil, err
	}
	if err := q.run(ctx, db, i); err != nil {
		return konserve.Stats{}, nil, fmt.Errorf("%s for person %d: %w", q.name, i, err)
	}
	return st.Stats(), db.Head(), nil
}

// coldPathBound is the most node GETs a cold selective query may make:
// one root-to-leaf path in each current index (EAVT, AEVT, AVET, VAET),
// whatever the database's size, plus the log tail.
func coldPathBound(h *branch.Head) int64 {
	n := int64(1) // the tail
	for _, name := range []string{"eavt", "aevt", "avet", "vaet"} {
		if r, ok := h.Commit.Root(name); ok {
			n += int64(r.Depth)
		}
	}
	return n
}

// TestColdSelectiveQueryFetchesPaths: on file and on the S3 test server,
// a cold reader answers each selective query of coldQueries with at most
// one root-to-leaf path of GETs per index (coldPathBound), in trees made
// deep by a narrow node width, for persons spread over the whole database.
func TestColdSelectiveQueryFetchesPaths(t *testing.T) {
	const entities = 20_000 // 100,000 datoms
	for _, kind := range []string{"file", "s3"} {
		t.Run(kind, func(t *testing.T) {
			url := "file://" + t.TempDir()
			if kind == "s3" {
				url = testenv.S3URL(t)
			}
			coldImport(t, url, entities, 64)
			ctx := context.Background()
			for _, q := range coldQueries {
				for _, i := range []int{0, entities / 3, entities - coldRangeLen} {
					s, h, err := coldRun(ctx, url, q, i)
					if err != nil {
						t.Fatal(err)
					}
					if d, _ := h.Commit.Root("avet"); d.Depth < 3 {
						t.Fatalf("AVET is %d levels deep; the test wants 3 or more", d.Depth)
					}
					if h.Commit.Stats == nil {
						t.Fatal("the commit has no statistics: the planner counts in the index")
					}
					t.Logf("%s for person %d: %d node GETs, %d KiB", q.name, i, s.Gets, s.BytesRead/1024)
					if bound := coldPathBound(h) + q.more; s.Gets > bound {
						t.Errorf("%s for person %d: %d node GETs, want at most %d (one path per index)", q.name, i, s.Gets, bound)
					}
					if s.HeadReads != 1 {
						t.Errorf("%s for person %d: %d head reads, want 1", q.name, i, s.HeadReads)
					}
				}
			}
		})
	}
}

// BenchmarkColdSelectiveQuery: the queries of coldQueries, each on a fresh
// store (empty cache), over a database of ACCRETE_COLD_DATOMS datoms
// (default 1,000,000; the figure is 10,000,000) imported with the
// default bulk node width, on file and on the S3 test server. Reports
// node GETs and KiB read per query, the trees' depth and the time per query
// (open included).
//
//	go test -run '^$' -bench ColdSelectiveQuery -benchtime 20x ./query/
//	ACCRETE_COLD_DATOMS=10000000 bash scripts/test.sh go test -run '^$' -bench ColdSelectiveQuery -benchtime 20x -timeout 60m ./query/
func BenchmarkColdSelectiveQuery(b *testing.B) {
	datoms := 1_000_000
	if s := os.Getenv("ACCRETE_COLD_DATOMS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < coldDatomsPerEntity {
			b.Fatalf("ACCRETE_COLD_DATOMS=%q: want a number of datoms ≥ %d", s, coldDatomsPerEntity)
		}
		datoms = n
	}
	entities := datoms / coldDatomsPerEntity
	for _, kind := range []string{"file", "s3"} {
		b.Run(kind, func(b *testing.B) {
			url := "file://" + b.TempDir()
			if kind == "s3" {
				url = testenv.S3URL(b)
			}
			start := time.Now()
			coldImport(b, url, entities, 0)
			b.Logf("imported %d datoms into %s in %v", entities*coldDatomsPerEntity, kind, time.Since(start))
			ctx := context.Background()
			for _, q := range coldQueries {
				b.Run(q.name, func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, 2))
					var gets, bytes int64
					depth := 0
					for b.Loop() {
						s, h, err := coldRun(ctx, url, q, r.IntN(entities-coldRangeLen+1))
						if err != nil {
							b.Fatal(err)
						}
						gets += s.Gets
						bytes += s.BytesRead
						if d, ok := h.Commit.Root("avet"); ok {
							depth = d.Depth
						}
					}
					b.ReportMetric(float64(gets)/float64(b.N), "GETs/query")
					b.ReportMetric(float64(bytes)/float64(b.N)/1024, "KiB/query")
					b.ReportMetric(float64(depth), "depth")
				})
			}
		})
	}
}
