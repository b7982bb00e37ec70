package accrete_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// The README's examples are part of the test suite: its Go snippets must
// stand in the tested Example, and its shell sessions are run against the
// real accrete binary with their printed results compared.

type block struct {
	lang string
	text string
}

func readmeBlocks(t *testing.T) []block {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```(\\w*)\\n(.*?)^```")
	var out []block
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out = append(out, block{m[1], m[2]})
	}
	return out
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestReadmeGoSnippetsAreTested(t *testing.T) {
	src, err := os.ReadFile("accrete_test.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "go" {
			continue
		}
		n++
		if !strings.Contains(squash(string(src)), squash(b.text)) {
			t.Errorf("README Go snippet is not in accrete_test.go's Example, so no test runs it:\n%s", b.text)
		}
	}
	if n == 0 {
		t.Fatal("README has no Go snippet")
	}
}

// shellCommands splits a README shell block into commands (a command goes
// on while its single quotes are open or its line ends in a backslash) and
// the expected output that a "# => " line gives the command before it.
func shellCommands(text string) (cmds []string, want map[int]string) {
	want = map[int]string{}
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if cur.Len() == 0 {
			trimmed := strings.TrimSpace(line)
			if exp, ok := strings.CutPrefix(trimmed, "# => "); ok {
				want[len(cmds)-1] = exp
				continue
			}
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		s := cur.String()
		if strings.Count(s, "'")%2 == 0 && !strings.HasSuffix(strings.TrimRight(s, "\n"), "\\") {
			cmds = append(cmds, strings.TrimRight(s, "\n"))
			cur.Reset()
		}
	}
	return cmds, want
}

func TestReadmeShellSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the accrete command")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "accrete"), "./cmd/accrete")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/accrete: %v\n%s", err, out)
	}
	ran := 0
	for i, b := range readmeBlocks(t) {
		if b.lang != "sh" || !strings.Contains(b.text, "accrete create") {
			continue
		}
		ran++
		t.Run(fmt.Sprint("block", i), func(t *testing.T) {
			dir := t.TempDir()
			cmds, want := shellCommands(b.text)
			var script strings.Builder
			script.WriteString("set -e\n")
			for k, c := range cmds {
				if regexp.MustCompile(`^[A-Z_]+=\S*$`).MatchString(c) {
					script.WriteString(c + "\n")
					continue
				}
				fmt.Fprintf(&script, "%s > out.%d\n", c, k)
			}
			cmd := exec.Command("bash", "-c", script.String())
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("README session failed: %v\n%s\nscript:\n%s", err, stderr.String(), script.String())
			}
			if len(want) == 0 {
				t.Fatal("README session shows no expected output")
			}
			for k, w := range want {
				got, err := os.ReadFile(filepath.Join(dir, fmt.Sprint("out.", k)))
				if err != nil {
					t.Fatal(err)
				}
				gv, err1 := edn.Read(got)
				wv, err2 := edn.Read([]byte(w))
				if err1 != nil || err2 != nil || !edn.Equal(gv, wv) {
					t.Errorf("README command\n%s\nprinted %s, README says %s", cmds[k], bytes.TrimSpace(got), w)
				}
			}
		})
	}
	if ran == 0 {
		t.Fatal("README has no shell session to run")
	}
}
