package proxy

// A small SQL lexer for the statements the router rewrites or inspects token by token. Not a
// parser, and not strict: it knows MariaDB's quoting and comment rules (including executable
// comments, whose content the server runs) and nothing of grammar. It allocates nothing.

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokEnd     tokKind = iota
	tokWord            // identifier or keyword
	tokQuoted          // `quoted identifier`
	tokString          // 'string' or "string", with an introducer it is a separate word
	tokNumber          // 12, 1.5, 0x1F
	tokUserVar         // @name, @'name', @`name`
	tokSysVar          // @@name, @@session.name
	tokPunct           // one byte: ( ) , ; = + ...
)

// token is one token of a statement: q[start:end].
type token struct {
	kind       tokKind
	start, end int
}

// lexer walks a statement's tokens. The session's sql_mode decides two rules: noBackslash
// (NO_BACKSLASH_ESCAPES: a backslash in a string is an ordinary character) and ansiQuotes
// (ANSI_QUOTES: "x" is an identifier, not a string).
type lexer struct {
	q    []byte
	pos  int
	mode lexMode
	// ahead is the token peek lexed after aheadFrom, aheadTo where it ends: the next call of
	// next at aheadFrom takes it instead of lexing it again (aheadTo 0: none kept).
	ahead              token
	aheadFrom, aheadTo int
}

// lexMode is what of the session's sql_mode the lexer follows.
type lexMode struct{ noBackslash, ansiQuotes bool }

// next returns the next token; kind tokEnd at the end of the input.
func (l *lexer) next() token {
	if l.aheadTo > 0 && l.pos == l.aheadFrom {
		l.pos, l.aheadTo = l.aheadTo, 0
		return l.ahead
	}
	q := l.q
	for l.pos < len(q) {
		c := q[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case c == '#' || (c == '-' && l.pos+1 < len(q) && q[l.pos+1] == '-' &&
			(l.pos+2 == len(q) || isSpace(q[l.pos+2]))):
			for l.pos < len(q) && q[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && l.pos+1 < len(q) && q[l.pos+1] == '*':
			if n := executableCommentStart(q[l.pos:]); n > 0 {
				l.pos += n // the content runs: lex it
				continue
			}
			end := indexComment(q, l.pos+2)
			if end < 0 {
				l.pos = len(q)
				return token{kind: tokEnd, start: len(q), end: len(q)}
			}
			l.pos = end + 2
		case c == '*' && l.pos+1 < len(q) && q[l.pos+1] == '/':
			l.pos += 2 // the end of an executable comment
		default:
			return l.token()
		}
	}
	return token{kind: tokEnd, start: len(q), end: len(q)}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// executableCommentStart returns the length of an executable comment's opening ("/*!", "/*!50001",
// "/*M!100100"), 0 if q does not start with one.
func executableCommentStart(q []byte) int {
	i := 0
	switch {
	case len(q) >= 3 && q[2] == '!':
		i = 3
	case len(q) >= 4 && (q[2] == 'M' || q[2] == 'm') && q[3] == '!':
		i = 4
	default:
		return 0
	}
	for i < len(q) && q[i] >= '0' && q[i] <= '9' {
		i++
	}
	return i
}

func (l *lexer) token() token {
	q, start := l.q, l.pos
	c := q[start]
	switch {
	case c == '"' && l.mode.ansiQuotes:
		l.pos = skipQuoted(q, start, true)
		return token{kind: tokQuoted, start: start, end: l.pos}
	case c == '\'' || c == '"':
		l.pos = skipQuoted(q, start, l.mode.noBackslash)
		return token{kind: tokString, start: start, end: l.pos}
	case c == '`':
		l.pos = skipQuoted(q, start, true)
		return token{kind: tokQuoted, start: start, end: l.pos}
	case c == '@':
		if start+1 < len(q) && q[start+1] == '@' {
			l.pos = start + 2
			for l.pos < len(q) && (isWordByte(q[l.pos]) || q[l.pos] == '.') {
				l.pos++
			}
			return token{kind: tokSysVar, start: start, end: l.pos}
		}
		l.pos = start + 1
		if l.pos < len(q) && (q[l.pos] == '\'' || q[l.pos] == '"' || q[l.pos] == '`') {
			l.pos = skipQuoted(q, l.pos, l.mode.noBackslash || q[l.pos] == '`')
		} else {
			for l.pos < len(q) && (isWordByte(q[l.pos]) || q[l.pos] == '.') {
				l.pos++
			}
		}
		return token{kind: tokUserVar, start: start, end: l.pos}
	case c >= '0' && c <= '9':
		for l.pos < len(q) && (isWordByte(q[l.pos]) || q[l.pos] == '.') {
			l.pos++
		}
		return token{kind: tokNumber, start: start, end: l.pos}
	case isWordByte(c):
		for l.pos < len(q) && isWordByte(q[l.pos]) {
			l.pos++
		}
		return token{kind: tokWord, start: start, end: l.pos}
	}
	l.pos++
	return token{kind: tokPunct, start: start, end: l.pos}
}

// is reports whether t is the word w (w upper-case), ignoring case.
func (l *lexer) is(t token, w string) bool {
	if t.kind != tokWord || t.end-t.start != len(w) {
		return false
	}
	for i := 0; i < len(w); i++ {
		b := l.q[t.start+i]
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		if b != w[i] {
			return false
		}
	}
	return true
}

// punct reports whether t is the one-byte punctuation b.
func (l *lexer) punct(t token, b byte) bool { return t.kind == tokPunct && l.q[t.start] == b }

// isAnyWord reports whether t is one of the words ws (upper-case).
func (l *lexer) isAnyWord(t token, ws ...string) bool {
	for _, w := range ws {
		if l.is(t, w) {
			return true
		}
	}
	return false
}

// peek returns the next token without moving on.
func (l *lexer) peek() token {
	if l.aheadTo > 0 && l.pos == l.aheadFrom {
		return l.ahead
	}
	p := *l
	t := p.next()
	l.ahead, l.aheadFrom, l.aheadTo = t, l.pos, p.pos
	return t
}

// peek2 returns the token after the next one without moving on.
func (l *lexer) peek2() token {
	p := *l
	p.next()
	return p.next()
}

// followedByParen reports whether the next token is "(".
func (l *lexer) followedByParen() bool { return l.punct(l.peek(), '(') }

// upper returns t upper-cased if it is a word of at most maxWord bytes, else nil. The result
// aliases buf: convert it with string() only where the compiler does so without copying (a map
// index, a switch, a comparison).
func (l *lexer) upper(t token, buf *[maxWord]byte) []byte {
	n := t.end - t.start
	if t.kind != tokWord || n > maxWord {
		return nil
	}
	for i := 0; i < n; i++ {
		b := l.q[t.start+i]
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		buf[i] = b
	}
	return buf[:n]
}

// maxWord is the longest word looked up; longer words cannot be keywords.
const maxWord = 24

// skipQuoted returns the index after the quoted run starting at q[i], honouring doubled quotes
// and, unless noBackslash, backslash escapes.
func skipQuoted(q []byte, i int, noBackslash bool) int {
	quote := q[i]
	for i++; i < len(q); i++ {
		switch q[i] {
		case '\\':
			if !noBackslash {
				i++
			}
		case quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(q)
}

func indexComment(q []byte, from int) int {
	for i := from; i+1 < len(q); i++ {
		if q[i] == '*' && q[i+1] == '/' {
			return i
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}
