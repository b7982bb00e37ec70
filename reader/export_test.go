package reader

// SetMinSplitPart sets the fewest datoms per part of a split scan, so that
// tests can split small ranges, and returns the call that restores it.
func SetMinSplitPart(n int) func() {
	old := minSplitPart
	minSplitPart = n
	return func() { minSplitPart = old }
}
