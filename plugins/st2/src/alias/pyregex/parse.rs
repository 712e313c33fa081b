//! The parser: Python regex source to [`Node`]s, with `sre_parse`'s checks and messages.

use std::collections::{BTreeMap, HashMap};

use super::{AtKind, Category, ClassItem, Flags, Node, Pattern, PyReError, RepeatKind, py_repr};

/// Python's `str.isidentifier`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c == '_' || unicode_ident::is_xid_start(c) => {
            chars.all(unicode_ident::is_xid_continue)
        }
        _ => false,
    }
}

/// Deepest group nesting accepted. CPython accepts a few hundred levels, fancy-regex refuses
/// more than 64 (with our own wrappers counted): real aliases nest a handful.
const MAX_NESTING: usize = 50;

/// CPython's `MAXREPEAT` (`_sre.MAXREPEAT`, 2**32 - 1).
const MAXREPEAT: u64 = 4_294_967_295;

/// Parses Python regex source. `flags` are the flags passed to `re.compile`.
pub(crate) fn parse(source: &str, flags: Flags) -> Result<Pattern, PyReError> {
    let chars: Vec<char> = source.chars().collect();
    let mut parser = Parser {
        src: &chars,
        pos: 0,
        flags,
        groups: 1,
        names: HashMap::new(),
        open: Vec::new(),
        group_names: Vec::new(),
        forward_refs: BTreeMap::new(),
    };
    let nodes = match parser.parse_sub(0) {
        Ok(nodes) => nodes,
        Err(err) => {
            // Python's tokenizer reads one token ahead: once the parser has consumed the token
            // before a trailing lone `\`, that backslash is the error, whatever comes next.
            let trailing = chars.iter().rev().take_while(|&&c| c == '\\').count();
            if trailing % 2 == 1 && parser.pos >= chars.len() - 1 {
                return Err(PyReError::at(
                    "bad escape (end of pattern)",
                    chars.len() - 1,
                ));
            }
            return Err(err);
        }
    };
    if parser.pos < chars.len() {
        // only `)` stops the top level early
        return Err(PyReError::at("unbalanced parenthesis", parser.pos));
    }
    if let Some((group, pos)) = parser
        .forward_refs
        .iter()
        .find(|&(&group, _)| group >= parser.groups)
    {
        return Err(PyReError::at(
            format!("invalid group reference {group}"),
            *pos,
        ));
    }
    Ok(Pattern {
        nodes,
        group_names: parser.group_names,
    })
}

struct Parser<'a> {
    src: &'a [char],
    pos: usize,
    flags: Flags,
    /// Python's `state.groups`: number of groups opened so far plus one.
    groups: usize,
    names: HashMap<String, usize>,
    open: Vec<usize>,
    group_names: Vec<(String, usize)>,
    /// Numbered conditional references and where they are (checked at the end).
    forward_refs: BTreeMap<usize, usize>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `_parse_sub`: alternatives separated by `|`.
    fn parse_sub(&mut self, nested: usize) -> Result<Vec<Node>, PyReError> {
        let mut items = Vec::new();
        loop {
            let first = nested == 0 && items.is_empty();
            items.push(self.parse_seq(nested, first)?);
            if !self.eat('|') {
                break;
            }
        }
        if items.len() == 1 {
            return Ok(items.pop().unwrap_or_default());
        }
        Ok(vec![Node::Branch(items)])
    }

    /// `_parse`: one alternative, up to `|`, `)` or the end.
    fn parse_seq(&mut self, nested: usize, first: bool) -> Result<Vec<Node>, PyReError> {
        let mut seq: Vec<Node> = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let start = self.pos;
            self.pos += 1;
            if self.flags.verbose {
                if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}') {
                    continue;
                }
                if c == '#' {
                    while let Some(c) = self.next() {
                        if c == '\n' {
                            break;
                        }
                    }
                    continue;
                }
            }
            match c {
                '\\' => {
                    let node = self.parse_escape(start)?;
                    seq.push(node);
                }
                '[' => {
                    let node = self.parse_class(start)?;
                    seq.push(node);
                }
                '*' | '+' | '?' | '{' => {
                    let (min, max) = match c {
                        '*' => (0, None),
                        '+' => (1, None),
                        '?' => (0, Some(1)),
                        _ => match self.parse_braces(start)? {
                            Some(range) => range,
                            None => {
                                seq.push(self.literal('{'));
                                continue;
                            }
                        },
                    };
                    let Some(last) = seq.pop() else {
                        return Err(PyReError::at("nothing to repeat", start));
                    };
                    if matches!(last, Node::At { .. }) {
                        return Err(PyReError::at("nothing to repeat", start));
                    }
                    if matches!(last, Node::Repeat { .. }) {
                        return Err(PyReError::at("multiple repeat", start));
                    }
                    let kind = if self.eat('?') {
                        RepeatKind::Lazy
                    } else if self.eat('+') {
                        RepeatKind::Possessive
                    } else {
                        RepeatKind::Greedy
                    };
                    seq.push(Node::Repeat {
                        min,
                        max,
                        kind,
                        body: vec![last],
                    });
                }
                '.' => seq.push(Node::Any {
                    dotall: self.flags.dotall,
                }),
                '^' => seq.push(Node::At {
                    kind: AtKind::Beginning,
                    multiline: self.flags.multiline,
                    ascii: self.flags.ascii,
                }),
                '$' => seq.push(Node::At {
                    kind: AtKind::End,
                    multiline: self.flags.multiline,
                    ascii: self.flags.ascii,
                }),
                '(' => {
                    if let Some(node) = self.parse_group(start, nested, first && seq.is_empty())? {
                        seq.push(node);
                    }
                }
                c => seq.push(self.literal(c)),
            }
        }
        Ok(seq)
    }

    fn literal(&self, c: char) -> Node {
        Node::Literal {
            c,
            ignorecase: self.flags.ignorecase,
        }
    }

    /// `{m,n}` after `{`; `None` when it is a literal `{`.
    fn parse_braces(&mut self, start: usize) -> Result<Option<(u32, Option<u32>)>, PyReError> {
        let here = self.pos;
        if self.peek() == Some('}') {
            return Ok(None);
        }
        let lo = self.digits();
        let hi = if self.eat(',') {
            self.digits()
        } else {
            lo.clone()
        };
        if !self.eat('}') {
            self.pos = here;
            return Ok(None);
        }
        let number = |s: &str| -> Result<u64, PyReError> {
            match s.parse::<u64>() {
                Ok(n) if n < MAXREPEAT => Ok(n),
                _ => Err(PyReError {
                    msg: "the repetition number is too large".to_owned(),
                    pos: None,
                }),
            }
        };
        let min = if lo.is_empty() { 0 } else { number(&lo)? };
        let max = if hi.is_empty() {
            None
        } else {
            Some(number(&hi)?)
        };
        if let Some(max) = max
            && max < min
        {
            return Err(PyReError::at(
                "min repeat greater than max repeat",
                start + 1,
            ));
        }
        // both are below MAXREPEAT = u32::MAX
        let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(Some((to_u32(min), max.map(to_u32))))
    }

    fn digits(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            s.push(c);
            self.pos += 1;
        }
        s
    }

    /// `getuntil`: a name up to `terminator` (consumed).
    fn get_until(&mut self, terminator: char, what: &str) -> Result<String, PyReError> {
        let start = self.pos;
        let mut name = String::new();
        loop {
            match self.next() {
                None => {
                    if name.is_empty() {
                        return Err(PyReError::at(format!("missing {what}"), self.pos));
                    }
                    return Err(PyReError::at(
                        format!("missing {terminator}, unterminated name"),
                        start,
                    ));
                }
                Some(c) if c == terminator => {
                    if name.is_empty() {
                        return Err(PyReError::at(format!("missing {what}"), start));
                    }
                    return Ok(name);
                }
                Some('\\') => {
                    name.push('\\');
                    if let Some(c) = self.next() {
                        name.push(c);
                    }
                }
                Some(c) => name.push(c),
            }
        }
    }

    /// The group of a conditional `(?(name)...)` / `(?(1)...)`. A number may refer to a
    /// group defined later: it is checked when the whole pattern is parsed.
    fn conditional_group(&mut self, name: &str, name_start: usize) -> Result<usize, PyReError> {
        if is_identifier(name) {
            return self.names.get(name).copied().ok_or_else(|| {
                PyReError::at(format!("unknown group name {}", py_repr(name)), name_start)
            });
        }
        let Some(index) = name
            .parse::<usize>()
            .ok()
            .filter(|_| name.chars().all(|c| c.is_ascii_digit()))
        else {
            return Err(PyReError::at(
                format!("bad character in group name {}", py_repr(name)),
                name_start,
            ));
        };
        if index == 0 {
            return Err(PyReError::at("bad group number", name_start));
        }
        self.forward_refs.entry(index).or_insert(name_start);
        Ok(index)
    }

    /// After `(`; `None` for comments and global flags.
    fn parse_group(
        &mut self,
        start: usize,
        nested: usize,
        first: bool,
    ) -> Result<Option<Node>, PyReError> {
        if nested >= MAX_NESTING {
            // a limit keeps our stack and fancy-regex's safe
            return Err(PyReError::at(
                format!("too many nested groups (more than {MAX_NESTING})"),
                start,
            ));
        }
        let mut index = None;
        let saved_flags = self.flags;
        enum Kind {
            Plain,
            Assert { behind: bool, negated: bool },
            Atomic,
        }
        let mut kind = Kind::Plain;
        if self.eat('?') {
            let Some(c) = self.next() else {
                return Err(PyReError::at("unexpected end of pattern", self.pos));
            };
            match c {
                'P' => {
                    if self.eat('<') {
                        let name_start = self.pos;
                        let name = self.get_until('>', "group name")?;
                        if !is_identifier(&name) {
                            return Err(PyReError::at(
                                format!("bad character in group name {}", py_repr(&name)),
                                name_start,
                            ));
                        }
                        let group = self.groups;
                        if let Some(&old) = self.names.get(&name) {
                            return Err(PyReError::at(
                                format!(
                                    "redefinition of group name {} as group {group}; was group {old}",
                                    py_repr(&name)
                                ),
                                name_start,
                            ));
                        }
                        self.names.insert(name.clone(), group);
                        self.group_names.push((name, group));
                        index = Some(group);
                    } else if self.eat('=') {
                        let name_start = self.pos;
                        let name = self.get_until(')', "group name")?;
                        if !is_identifier(&name) {
                            return Err(PyReError::at(
                                format!("bad character in group name {}", py_repr(&name)),
                                name_start,
                            ));
                        }
                        let Some(&group) = self.names.get(&name) else {
                            return Err(PyReError::at(
                                format!("unknown group name {}", py_repr(&name)),
                                name_start,
                            ));
                        };
                        if self.open.contains(&group) {
                            return Err(PyReError::at("cannot refer to an open group", name_start));
                        }
                        return Ok(Some(Node::Backref {
                            group,
                            ignorecase: self.flags.ignorecase,
                        }));
                    } else {
                        return Err(match self.peek() {
                            Some(c) => PyReError::at(format!("unknown extension ?P{c}"), start + 1),
                            None => PyReError::at("unexpected end of pattern", self.pos),
                        });
                    }
                }
                ':' => {}
                '#' => loop {
                    match self.next() {
                        None => {
                            return Err(PyReError::at("missing ), unterminated comment", start));
                        }
                        Some(')') => return Ok(None),
                        Some(_) => {}
                    }
                },
                '=' | '!' => {
                    kind = Kind::Assert {
                        behind: false,
                        negated: c == '!',
                    }
                }
                '<' => match self.next() {
                    Some(d @ ('=' | '!')) => {
                        kind = Kind::Assert {
                            behind: true,
                            negated: d == '!',
                        }
                    }
                    Some(d) => {
                        return Err(PyReError::at(format!("unknown extension ?<{d}"), start + 1));
                    }
                    None => return Err(PyReError::at("unexpected end of pattern", self.pos)),
                },
                '>' => kind = Kind::Atomic,
                '(' => return self.parse_conditional(start, nested).map(Some),
                c if "aiLmsux-".contains(c) => match self.parse_flags(c)? {
                    None => {
                        if !first {
                            return Err(PyReError::at(
                                "global flags not at the start of the expression",
                                start,
                            ));
                        }
                        return Ok(None);
                    }
                    Some((add, del)) => {
                        apply_flags(&mut self.flags, &add, true);
                        apply_flags(&mut self.flags, &del, false);
                    }
                },
                c => {
                    // Python's tokenizer reads `\x` as one token
                    let mut token = String::from(c);
                    if c == '\\'
                        && let Some(d) = self.peek()
                    {
                        token.push(d);
                    }
                    return Err(PyReError::at(
                        format!("unknown extension ?{token}"),
                        start + 1,
                    ));
                }
            }
        } else {
            let group = self.groups;
            index = Some(group);
        }
        if let Some(group) = index {
            self.groups += 1;
            self.open.push(group);
        }
        let body = self.parse_sub(nested + 1)?;
        self.flags = saved_flags;
        if !self.eat(')') {
            return Err(PyReError::at("missing ), unterminated subpattern", start));
        }
        if let Some(group) = index {
            self.open.retain(|&g| g != group);
        }
        Ok(Some(match kind {
            Kind::Plain => Node::Group { index, body },
            Kind::Assert { behind, negated } => Node::Assert {
                behind,
                negated,
                body,
            },
            Kind::Atomic => Node::Atomic(body),
        }))
    }

    /// `(?(id/name)yes|no)` after `(?(`.
    fn parse_conditional(&mut self, start: usize, nested: usize) -> Result<Node, PyReError> {
        let name_start = self.pos;
        let name = self.get_until(')', "group name")?;
        let group = self.conditional_group(&name, name_start)?;
        let yes = self.parse_seq(nested + 1, false)?;
        let no = if self.eat('|') {
            let no = self.parse_seq(nested + 1, false)?;
            if self.peek() == Some('|') {
                return Err(PyReError::at(
                    "conditional backref with more than two branches",
                    self.pos,
                ));
            }
            no
        } else {
            Vec::new()
        };
        if !self.eat(')') {
            return Err(PyReError::at("missing ), unterminated subpattern", start));
        }
        Ok(Node::Conditional { group, yes, no })
    }

    /// `_parse_flags`; `None` for global flags `(?i)`, else the added and removed flags.
    fn parse_flags(&mut self, first: char) -> Result<Option<FlagChange>, PyReError> {
        let mut add = Vec::new();
        let mut del = Vec::new();
        let mut c = first;
        if c != '-' {
            loop {
                if c == 'L' {
                    return Err(PyReError::at(
                        "bad inline flags: cannot use 'L' flag with a str pattern",
                        self.pos,
                    ));
                }
                add.push(c);
                if add.contains(&'a') && add.contains(&'u') {
                    return Err(PyReError::at(
                        "bad inline flags: flags 'a', 'u' and 'L' are incompatible",
                        self.pos,
                    ));
                }
                match self.next() {
                    None => return Err(PyReError::at("missing -, : or )", self.pos)),
                    Some(d @ (')' | '-' | ':')) => {
                        c = d;
                        break;
                    }
                    Some(d) if "aiLmsux".contains(d) => c = d,
                    Some(d) => {
                        let msg = if d.is_alphabetic() {
                            "unknown flag"
                        } else {
                            "missing -, : or )"
                        };
                        return Err(PyReError::at(msg, self.pos - 1));
                    }
                }
            }
        }
        if c == ')' {
            // global flags
            apply_flags(&mut self.flags, &add, true);
            return Ok(None);
        }
        if c == '-' {
            let Some(mut d) = self.next() else {
                return Err(PyReError::at("missing flag", self.pos));
            };
            if !"aiLmsux".contains(d) {
                let msg = if d.is_alphabetic() {
                    "unknown flag"
                } else {
                    "missing flag"
                };
                return Err(PyReError::at(msg, self.pos - 1));
            }
            loop {
                if "aLu".contains(d) {
                    return Err(PyReError::at(
                        "bad inline flags: cannot turn off flags 'a', 'u' and 'L'",
                        self.pos,
                    ));
                }
                del.push(d);
                match self.next() {
                    None => return Err(PyReError::at("missing :", self.pos)),
                    Some(':') => break,
                    Some(e) if "aiLmsux".contains(e) => d = e,
                    Some(e) => {
                        let msg = if e.is_alphabetic() {
                            "unknown flag"
                        } else {
                            "missing :"
                        };
                        return Err(PyReError::at(msg, self.pos - 1));
                    }
                }
            }
        }
        if add.iter().any(|c| del.contains(c)) {
            return Err(PyReError::at(
                "bad inline flags: flag turned on and off",
                self.pos - 1,
            ));
        }
        Ok(Some((add, del)))
    }

    /// An escape outside a set, after `\` at `start`.
    fn parse_escape(&mut self, start: usize) -> Result<Node, PyReError> {
        let Some(c) = self.next() else {
            return Err(PyReError::at("bad escape (end of pattern)", start));
        };
        let ascii = self.flags.ascii;
        let at = |kind| Node::At {
            kind,
            multiline: false,
            ascii,
        };
        let category = |category| Node::Category { category, ascii };
        Ok(match c {
            'A' => at(AtKind::BeginningString),
            'Z' => at(AtKind::EndString),
            'b' => at(AtKind::Boundary),
            'B' => at(AtKind::NonBoundary),
            'd' => category(Category::Digit),
            'D' => category(Category::NotDigit),
            's' => category(Category::Space),
            'S' => category(Category::NotSpace),
            'w' => category(Category::Word),
            'W' => category(Category::NotWord),
            '1'..='9' => {
                let mut digits = String::from(c);
                if let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.pos += 1;
                    digits.push(d);
                    if let Some(e) = self.peek().filter(|e| ('0'..='7').contains(e))
                        && ('0'..='7').contains(&c)
                        && ('0'..='7').contains(&d)
                    {
                        self.pos += 1;
                        digits.push(e);
                        let value = u32::from_str_radix(&digits, 8).unwrap_or(u32::MAX);
                        if value > 0o377 {
                            return Err(PyReError::at(
                                format!("octal escape value \\{digits} outside of range 0-0o377"),
                                start,
                            ));
                        }
                        return Ok(self.literal(char::from_u32(value).unwrap_or('\0')));
                    }
                }
                let group: usize = digits.parse().unwrap_or(usize::MAX);
                if group >= self.groups {
                    return Err(PyReError::at(
                        format!("invalid group reference {group}"),
                        start + 1,
                    ));
                }
                if self.open.contains(&group) {
                    return Err(PyReError::at("cannot refer to an open group", start));
                }
                Node::Backref {
                    group,
                    ignorecase: self.flags.ignorecase,
                }
            }
            c => {
                let c = self.escaped_char(c, start, false)?;
                self.literal(c)
            }
        })
    }

    /// The character of a literal escape (`\n`, `\x41`, `\u00e9`, `\0`, `\.`); `c` follows `\`.
    fn escaped_char(&mut self, c: char, start: usize, in_class: bool) -> Result<char, PyReError> {
        let hex = |this: &mut Self, n: usize, letter: char| -> Result<char, PyReError> {
            let mut digits = String::new();
            while digits.len() < n
                && let Some(d) = this.peek().filter(char::is_ascii_hexdigit)
            {
                digits.push(d);
                this.pos += 1;
            }
            if digits.len() != n {
                return Err(PyReError::at(
                    format!("incomplete escape \\{letter}{digits}"),
                    start,
                ));
            }
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| PyReError::at(format!("bad escape \\{letter}{digits}"), start))
        };
        Ok(match c {
            'a' => '\u{7}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            'b' if in_class => '\u{8}',
            'x' => hex(self, 2, 'x')?,
            'u' => hex(self, 4, 'u')?,
            'U' => hex(self, 8, 'U')?,
            '0'..='7' if c == '0' || in_class => {
                let mut digits = String::from(c);
                while digits.len() < 3
                    && let Some(d) = self.peek().filter(|d| ('0'..='7').contains(d))
                {
                    digits.push(d);
                    self.pos += 1;
                }
                let value = u32::from_str_radix(&digits, 8).unwrap_or(u32::MAX);
                if value > 0o377 {
                    return Err(PyReError::at(
                        format!("octal escape value \\{digits} outside of range 0-0o377"),
                        start,
                    ));
                }
                char::from_u32(value).unwrap_or('\0')
            }
            'N' => {
                return Err(PyReError::at(
                    "named Unicode escapes \\N{...} are not supported by ferrbot's alias parser",
                    start,
                ));
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(PyReError::at(format!("bad escape \\{c}"), start));
            }
            c => c,
        })
    }

    /// A `[...]` set after `[` at `start`.
    fn parse_class(&mut self, start: usize) -> Result<Node, PyReError> {
        let negated = self.eat('^');
        let mut items: Vec<ClassItem> = Vec::new();
        loop {
            let this_start = self.pos;
            let Some(c) = self.next() else {
                return Err(PyReError::at("unterminated character set", start));
            };
            if c == ']' && !items.is_empty() {
                break;
            }
            let first = if c == '\\' {
                self.class_escape(this_start)?
            } else {
                ClassItem::Char(c)
            };
            if self.eat('-') {
                let that_start = self.pos;
                let Some(d) = self.next() else {
                    return Err(PyReError::at("unterminated character set", start));
                };
                if d == ']' {
                    items.push(first);
                    items.push(ClassItem::Char('-'));
                    break;
                }
                let second = if d == '\\' {
                    self.class_escape(that_start)?
                } else {
                    ClassItem::Char(d)
                };
                let text: String = self.src[this_start..self.pos].iter().collect();
                match (first, second) {
                    (ClassItem::Char(lo), ClassItem::Char(hi)) if lo <= hi => {
                        items.push(ClassItem::Range(lo, hi));
                    }
                    _ => {
                        return Err(PyReError::at(
                            format!("bad character range {text}"),
                            this_start,
                        ));
                    }
                }
            } else {
                items.push(first);
            }
        }
        Ok(Node::Class {
            negated,
            items,
            ignorecase: self.flags.ignorecase,
            ascii: self.flags.ascii,
        })
    }

    /// An escape inside a set, after `\` at `start`.
    fn class_escape(&mut self, start: usize) -> Result<ClassItem, PyReError> {
        let Some(c) = self.next() else {
            return Err(PyReError::at("bad escape (end of pattern)", start));
        };
        Ok(match c {
            'd' => ClassItem::Category(Category::Digit),
            'D' => ClassItem::Category(Category::NotDigit),
            's' => ClassItem::Category(Category::Space),
            'S' => ClassItem::Category(Category::NotSpace),
            'w' => ClassItem::Category(Category::Word),
            'W' => ClassItem::Category(Category::NotWord),
            '8' | '9' => return Err(PyReError::at(format!("bad escape \\{c}"), start)),
            c => ClassItem::Char(self.escaped_char(c, start, true)?),
        })
    }
}

/// Flag letters turned on and off by a scoped `(?i-s:...)`.
type FlagChange = (Vec<char>, Vec<char>);

fn apply_flags(flags: &mut Flags, letters: &[char], on: bool) {
    for c in letters {
        match c {
            'i' => flags.ignorecase = on,
            'm' => flags.multiline = on,
            's' => flags.dotall = on,
            'x' => flags.verbose = on,
            'a' => flags.ascii = on,
            _ => {}
        }
    }
}
