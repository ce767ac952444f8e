package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestTargets(t *testing.T) {
	tests := []struct {
		name   string
		total  int
		claims []claim
		want   map[string]int
	}{
		{"idle fleet shares alike", 48, []claim{
			{id: "a", joined: 1, floor: 2, cap: 40}, {id: "b", joined: 2, floor: 2, cap: 40}, {id: "c", joined: 3, floor: 2, cap: 40},
		}, map[string]int{"a": 16, "b": 16, "c": 16}},
		{"demand first, the rest alike", 48, []claim{
			{id: "a", joined: 1, floor: 2, cap: 40, want: 30}, {id: "b", joined: 2, floor: 2, cap: 40, want: 4}, {id: "c", joined: 3, floor: 2, cap: 40},
		}, map[string]int{"a": 34, "b": 8, "c": 6}},
		{"saturated fleet is max-min fair", 48, []claim{
			{id: "a", joined: 1, floor: 2, cap: 40, want: 100}, {id: "b", joined: 2, floor: 2, cap: 40, want: 10}, {id: "c", joined: 3, floor: 2, cap: 40, want: 100},
		}, map[string]int{"a": 19, "b": 10, "c": 19}},
		{"caps bound", 48, []claim{
			{id: "a", joined: 1, floor: 1, cap: 5, want: 100}, {id: "b", joined: 2, floor: 1, cap: 10, want: 100},
		}, map[string]int{"a": 5, "b": 10}},
		{"floors oldest first when the budget is short", 3, []claim{
			{id: "c", joined: 3, floor: 2, cap: 10}, {id: "a", joined: 1, floor: 2, cap: 10}, {id: "b", joined: 2, floor: 2, cap: 10},
		}, map[string]int{"a": 2, "b": 1, "c": 0}},
		{"nothing to give", 0, []claim{{id: "a", floor: 2, cap: 10, want: 5}}, map[string]int{"a": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := targets(tt.total, tt.claims)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("targets = %v, want %v", got, tt.want)
			}
		})
	}
}

// Whatever the claims: the sum never exceeds the budget, nobody exceeds its cap, every floor is
// met while the budget allows, the budget is all given while caps allow, and the order the
// claims come in changes nothing.
func TestTargetsProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		total := rng.IntN(100)
		var cs []claim
		floors, caps := 0, 0
		for i := range 1 + rng.IntN(6) {
			c := claim{id: fmt.Sprint("i", i), joined: int64(rng.IntN(4)), floor: rng.IntN(4), cap: 1 + rng.IntN(40), want: rng.IntN(60)}
			floors += min(c.floor, c.cap)
			caps += c.cap
			cs = append(cs, c)
		}
		got := targets(total, cs)
		rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
		if again := targets(total, cs); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("order matters: %v then %v for %+v", got, again, cs)
		}
		sum := 0
		for _, c := range cs {
			g := got[c.id]
			sum += g
			if g > c.cap || g < 0 {
				t.Fatalf("%s got %d, cap %d: %+v", c.id, g, c.cap, cs)
			}
			if floors <= total && g < min(c.floor, c.cap) {
				t.Fatalf("%s got %d below its floor %d with room for all floors: %+v", c.id, g, c.floor, cs)
			}
		}
		if sum > total {
			t.Fatalf("sum %d over the budget %d: %v %+v", sum, total, got, cs)
		}
		if sum < min(total, caps) {
			t.Fatalf("sum %d leaves budget unused (total %d, caps %d): %v %+v", sum, total, caps, got, cs)
		}
	}
}
