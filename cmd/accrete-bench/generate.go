package main

import "strconv"

// The generator of workload.js, used when the data files are missing (as
// bench.js does) and by the test that checks the files against it.

var (
	genNames     = []string{"Ivan", "Petr", "Sergei", "Oleg", "Yuri", "Dmitry", "Fedor", "Denis"}
	genLastNames = []string{"Ivanov", "Petrov", "Sidorov", "Kovalev", "Kuznetsov", "Voronoi"}
	genAliases   = []string{"A. C. Q. W.", "A. J. Finn", "A.A. Fair", "Aapeli", "Aaron Wolfe",
		"Abigail Van Buren", "Jeanne Phillips", "Abram Tertz", "Abu Nuwas", "Acton Bell", "Adunis"}
	genSexes = []string{"male", "female"}
)

const peopleSeed = 20000

// randomMan draws one person in workload.js's fixed order: name,
// last-name, alias count k, k aliases, sex, age, salary.
func randomMan(r *rng, id int) entity {
	name := genNames[r.intn(len(genNames))]
	last := genLastNames[r.intn(len(genLastNames))]
	k := r.intn(10)
	alias := make([]any, 0, k)
	for range k {
		alias = append(alias, genAliases[r.intn(len(genAliases))])
	}
	sex := genSexes[r.intn(len(genSexes))]
	age := int64(r.intn(100))
	salary := int64(r.intn(100000))
	return entity{id: strconv.Itoa(id), attrs: []attrVal{
		{"name", name}, {"last-name", last}, {"full-name", name + " " + last},
		{"alias", alias}, {"sex", sex}, {"age", age}, {"salary", salary}}}
}

// genPeople is people(n, seed): persons 1..n in order, then shuffled with
// the same stream.
func genPeople(n int, seed uint32) []entity {
	r := rng(seed)
	out := make([]entity, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, randomMan(&r, i))
	}
	shuffle(&r, out)
	return out
}

// genWide is wideDb(depth, width, seed): a preorder tree in which node id
// follows id*width+c; inner nodes also get :id and :follows.
func genWide(depth, width int, seed uint32) []entity {
	r := rng(seed)
	var out []entity
	var rec func(id, depth int)
	rec = func(id, depth int) {
		man := randomMan(&r, id)
		if depth == 0 {
			out = append(out, man)
			return
		}
		children := make([]any, width)
		for c := range width {
			children[c] = strconv.Itoa(id*width + c)
		}
		man.attrs = append(man.attrs, attrVal{"id", int64(id)}, attrVal{"follows", children})
		out = append(out, man)
		for c := range width {
			rec(id*width+c, depth-1)
		}
	}
	rec(1, depth)
	return out
}

// genLong is longDb(depth, width): width chains of depth edges with
// explicit integer ids.
func genLong(depth, width int) []entity {
	var out []entity
	for x := range width {
		for y := range depth {
			from := x*(depth+1) + y
			to := from + 1
			out = append(out,
				entity{id: int64(from + 1), attrs: []attrVal{{"name", "Ivan"}, {"follows", int64(to + 1)}}},
				entity{id: int64(to + 1), attrs: []attrVal{{"name", "Ivan"}}})
		}
	}
	return out
}

// genAux is auxDatasets().
func genAux() map[string][]entity {
	return map[string][]entity{
		"wide-4x5":  genWide(4, 5, 45),
		"wide-3x3":  genWide(3, 3, 33),
		"wide-5x3":  genWide(5, 3, 53),
		"wide-7x3":  genWide(7, 3, 73),
		"wide-4x6":  genWide(4, 6, 46),
		"long-10x3": genLong(10, 3),
		"long-30x3": genLong(30, 3),
		"long-30x5": genLong(30, 5),
	}
}
