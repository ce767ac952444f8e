package doctor

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"8GiB":    8 << 30,
		"8G":      8 << 30,
		"8gb":     8 << 30,
		"512MiB":  512 << 20,
		"512m":    512 << 20,
		"1.5G":    3 << 29,
		"64K":     64 << 10,
		"1T":      1 << 40,
		"1048576": 1 << 20,
		"100B":    100,
		" 2 GiB ": 2 << 30,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "8X", "8GiBs", "-1G", "1.2.3G", "1e3G", "99999999999T"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	cases := map[int64]string{
		300:             "300 B",
		2 << 20:         "2 MiB",
		299008:          "292 KiB",
		19_713_024:      "18.8 MiB",
		8 << 30:         "8 GiB",
		3 << 29:         "1.5 GiB",
		-(64 << 20):     "-64 MiB",
		(1 << 40) + 512: "1.0 TiB",
	}
	for in, want := range cases {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
