package cluster

import "slices"

// claim is what one live instance asks of one backend's budget, as it published it.
type claim struct {
	id     string
	joined int64 // etcd create revision of its member key: older instances get their floor first
	floor  int   // kept however little it needs
	cap    int   // its own pool cap: it never gets more
	want   int   // its demand: peak of connections in use plus statements waiting
}

// targets divides total among the claims: every instance its floor (oldest first, while the
// budget lasts), then by demand (max-min fair: the smallest wants are met whole, the rest share
// alike), then what nobody wants in equal parts, so that an idle fleet keeps room for a burst
// at any instance without a round trip to etcd. Nobody gets more than its cap. Every instance
// computes it from the same published claims and so agrees on everyone's target; the grant
// table, not this function, keeps the sum within the budget.
func targets(total int, claims []claim) map[string]int {
	cs := slices.Clone(claims)
	slices.SortFunc(cs, func(a, b claim) int {
		if a.joined != b.joined {
			if a.joined < b.joined {
				return -1
			}
			return 1
		}
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	})
	got := make([]int, len(cs))
	left := max(total, 0)
	for i, c := range cs {
		got[i] = min(c.floor, c.cap, left)
		left -= got[i]
	}
	left = fill(got, left, func(i int) int { return min(max(cs[i].want, cs[i].floor), cs[i].cap) })
	fill(got, left, func(i int) int { return cs[i].cap })
	out := make(map[string]int, len(cs))
	for i, c := range cs {
		out[c.id] = got[i]
	}
	return out
}

// fill raises got[i] toward upto(i), sharing left alike among those below it (max-min fair:
// each round gives every one still short an equal part, the first ones one more when it does
// not divide), and returns what is left.
func fill(got []int, left int, upto func(i int) int) int {
	for left > 0 {
		var short []int
		for i := range got {
			if got[i] < upto(i) {
				short = append(short, i)
			}
		}
		if len(short) == 0 {
			return left
		}
		part, extra := left/len(short), left%len(short)
		for k, i := range short {
			give := part
			if k < extra {
				give++
			}
			give = min(give, upto(i)-got[i])
			got[i] += give
			left -= give
		}
	}
	return left
}
