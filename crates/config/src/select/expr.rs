//! pytest-like boolean expressions for `-k` and `-m`.
//!
//! Grammar (pytest's, lowest precedence first):
//!
//! ```text
//! expr     := and_expr ("or" and_expr)*
//! and_expr := not_expr ("and" not_expr)*
//! not_expr := "not" not_expr | "(" expr ")" | WORD
//! ```
//!
//! A WORD is a run of characters other than whitespace and parentheses; `and`, `or` and `not` are
//! keywords (lower case only, as in pytest). What a word means is up to the caller: `-k` matches it
//! as a case-insensitive substring of the test id, `-m` as an exact marker. An empty (or
//! all-whitespace) expression matches everything, as `pytest -k ""` does.

use std::fmt;

/// Deepest nesting of parentheses and `not` accepted, so evaluation never exhausts the stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// A parsed `-k`/`-m` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    root: Node,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// The empty expression.
    All,
    Word(String),
    Not(Box<Node>),
    /// Operands of a chain of `and` (at least two); n-ary so long chains stay shallow.
    And(Vec<Node>),
    /// Operands of a chain of `or` (at least two).
    Or(Vec<Node>),
}

/// Why an expression did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: expected {expected}, found {found}")]
pub struct ExprError {
    /// 1-based character column of the offending token (one past the end for end of input).
    pub column: usize,
    /// What the parser wanted there, e.g. "a word, `not` or `(`".
    pub expected: String,
    /// What it saw, e.g. "end of input" or "`)`".
    pub found: String,
}

impl ExprError {
    /// The expression with a caret under the error column, for terminal output:
    ///
    /// ```text
    /// nixl and
    ///         ^ expected a word, `not` or `(`, found end of input
    /// ```
    pub fn render(&self, src: &str) -> String {
        let pad = " ".repeat(self.column.saturating_sub(1));
        format!(
            "{src}\n{pad}^ expected {}, found {}",
            self.expected, self.found
        )
    }
}

impl Expr {
    /// Parses `src`; see the module docs for the grammar.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        let tokens = tokenize(src);
        let end_column = src.chars().count() + 1;
        let mut parser = Parser {
            tokens,
            pos: 0,
            end_column,
            depth: 0,
        };
        if parser.peek().is_none() {
            return Ok(Expr { root: Node::All });
        }
        let root = parser.expr()?;
        if let Some(tok) = parser.peek() {
            return Err(ExprError {
                column: tok.column,
                expected: "`and`, `or` or end of input".to_owned(),
                found: tok.describe(),
            });
        }
        Ok(Expr { root })
    }

    /// Evaluates the expression, asking `word` whether each bare word matches.
    pub fn eval(&self, word: &mut dyn FnMut(&str) -> bool) -> bool {
        eval(&self.root, word)
    }

    /// The distinct words of the expression, in order of appearance.
    pub fn words(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_words(&self.root, &mut out);
        out
    }
}

impl fmt::Display for Expr {
    /// Writes the expression back fully parenthesised, so precedence is visible.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(&self.root, f)
    }
}

fn write_node(node: &Node, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let chain = |items: &[Node], op: &str, f: &mut fmt::Formatter<'_>| -> fmt::Result {
        f.write_str("(")?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                write!(f, " {op} ")?;
            }
            write_node(item, f)?;
        }
        f.write_str(")")
    };
    match node {
        Node::All => Ok(()),
        Node::Word(w) => f.write_str(w),
        Node::Not(inner) => {
            f.write_str("not ")?;
            write_node(inner, f)
        }
        Node::And(items) => chain(items, "and", f),
        Node::Or(items) => chain(items, "or", f),
    }
}

fn eval(node: &Node, word: &mut dyn FnMut(&str) -> bool) -> bool {
    match node {
        Node::All => true,
        Node::Word(w) => word(w),
        Node::Not(inner) => !eval(inner, word),
        Node::And(items) => items.iter().all(|n| eval(n, word)),
        Node::Or(items) => items.iter().any(|n| eval(n, word)),
    }
}

fn collect_words<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
    match node {
        Node::All => {}
        Node::Word(w) => {
            if !out.contains(&w.as_str()) {
                out.push(w);
            }
        }
        Node::Not(inner) => collect_words(inner, out),
        Node::And(items) | Node::Or(items) => {
            for item in items {
                collect_words(item, out);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokKind {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokKind,
    column: usize,
}

impl Token {
    fn describe(&self) -> String {
        match &self.kind {
            TokKind::LParen => "`(`".to_owned(),
            TokKind::RParen => "`)`".to_owned(),
            TokKind::And => "`and`".to_owned(),
            TokKind::Or => "`or`".to_owned(),
            TokKind::Not => "`not`".to_owned(),
            TokKind::Word(w) => format!("word `{w}`"),
        }
    }
}

fn tokenize(src: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut word_col = 0;
    let flush = |word: &mut String, col: usize, tokens: &mut Vec<Token>| {
        if word.is_empty() {
            return;
        }
        let kind = match word.as_str() {
            "and" => TokKind::And,
            "or" => TokKind::Or,
            "not" => TokKind::Not,
            _ => TokKind::Word(word.clone()),
        };
        tokens.push(Token { kind, column: col });
        word.clear();
    };
    for (i, c) in src.chars().enumerate() {
        let column = i + 1;
        if c.is_whitespace() || c == '(' || c == ')' {
            flush(&mut word, word_col, &mut tokens);
            if c == '(' {
                tokens.push(Token {
                    kind: TokKind::LParen,
                    column,
                });
            } else if c == ')' {
                tokens.push(Token {
                    kind: TokKind::RParen,
                    column,
                });
            }
        } else {
            if word.is_empty() {
                word_col = column;
            }
            word.push(c);
        }
    }
    flush(&mut word, word_col, &mut tokens);
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end_column: usize,
    depth: usize,
}

const OPERAND: &str = "a word, `not` or `(`";

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn found(&self) -> (usize, String) {
        match self.peek() {
            Some(tok) => (tok.column, tok.describe()),
            None => (self.end_column, "end of input".to_owned()),
        }
    }

    fn error(&self, expected: &str) -> ExprError {
        let (column, found) = self.found();
        ExprError {
            column,
            expected: expected.to_owned(),
            found,
        }
    }

    fn eat(&mut self, kind: &TokKind) -> bool {
        if self.peek().is_some_and(|t| &t.kind == kind) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.and_expr()?];
        while self.eat(&TokKind::Or) {
            items.push(self.and_expr()?);
        }
        Ok(single_or(items, Node::Or))
    }

    fn and_expr(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.not_expr()?];
        while self.eat(&TokKind::And) {
            items.push(self.not_expr()?);
        }
        Ok(single_or(items, Node::And))
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let (column, _) = self.found();
            return Err(ExprError {
                column,
                expected: format!("at most {MAX_DEPTH} nested `not`s or parentheses"),
                found: "deeper nesting".to_owned(),
            });
        }
        Ok(())
    }

    fn not_expr(&mut self) -> Result<Node, ExprError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error(OPERAND));
        };
        match tok.kind {
            TokKind::Not => {
                self.pos += 1;
                self.enter()?;
                let inner = self.not_expr()?;
                self.depth -= 1;
                Ok(Node::Not(Box::new(inner)))
            }
            TokKind::LParen => {
                self.pos += 1;
                self.enter()?;
                let inner = self.expr()?;
                if !self.eat(&TokKind::RParen) {
                    let mut err = self.error("`)`");
                    err.expected = format!("`)` to close the `(` at column {}", tok.column);
                    return Err(err);
                }
                self.depth -= 1;
                Ok(inner)
            }
            TokKind::Word(w) => {
                self.pos += 1;
                Ok(Node::Word(w))
            }
            TokKind::RParen | TokKind::And | TokKind::Or => Err(self.error(OPERAND)),
        }
    }
}

fn single_or(mut items: Vec<Node>, make: fn(Vec<Node>) -> Node) -> Node {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    make(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn show(src: &str) -> String {
        Expr::parse(src).unwrap().to_string()
    }

    fn holds(src: &str, true_words: &[&str]) -> bool {
        Expr::parse(src)
            .unwrap()
            .eval(&mut |w| true_words.contains(&w))
    }

    #[test]
    fn precedence_not_binds_tighter_than_and_than_or() {
        assert_eq!(show("a or b and c"), "(a or (b and c))");
        assert_eq!(show("a and b or c"), "((a and b) or c)");
        assert_eq!(show("not a and b"), "(not a and b)");
        assert_eq!(show("not a or not b and c"), "(not a or (not b and c))");
        assert_eq!(show("a or b or c"), "(a or b or c)");
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(show("(a or b) and c"), "((a or b) and c)");
        assert_eq!(show("not (a or b)"), "not (a or b)");
        assert_eq!(show("((a))"), "a");
        assert_eq!(show("(a)and(b)"), "(a and b)");
        assert!(!holds("(a or b) and c", &["a"]));
        assert!(holds("a or b and c", &["a"]));
    }

    #[test]
    fn not_not_cancels() {
        assert_eq!(show("not not a"), "not not a");
        assert!(holds("not not a", &["a"]));
        assert!(!holds("not not a", &[]));
        assert!(holds("not not not a", &[]));
    }

    #[test]
    fn words_may_hold_punctuation_and_keywords_are_case_sensitive() {
        assert_eq!(
            show("deepseek-r1-fp4_1k1k and ccb-NIXL"),
            "(deepseek-r1-fp4_1k1k and ccb-NIXL)"
        );
        // pytest keywords are lower case; `AND` is a plain word.
        assert_eq!(show("AND"), "AND");
        assert_eq!(show("android or order"), "(android or order)");
        assert_eq!(Expr::parse("a or b").unwrap().words(), vec!["a", "b"]);
    }

    #[test]
    fn empty_matches_everything() {
        assert!(holds("", &[]));
        assert!(holds("   ", &[]));
    }

    fn err(src: &str) -> ExprError {
        Expr::parse(src).unwrap_err()
    }

    #[test]
    fn errors_name_column_and_expectation() {
        let e = err("a and");
        assert_eq!(
            e.to_string(),
            "at column 6: expected a word, `not` or `(`, found end of input"
        );
        let e = err("a b");
        assert_eq!(
            e.to_string(),
            "at column 3: expected `and`, `or` or end of input, found word `b`"
        );
        let e = err("(a or b");
        assert_eq!(e.column, 8);
        assert_eq!(e.expected, "`)` to close the `(` at column 1");
        let e = err(")");
        assert_eq!((e.column, e.found.as_str()), (1, "`)`"));
        let e = err("a or or b");
        assert_eq!((e.column, e.found.as_str()), (6, "`or`"));
        let e = err("not");
        assert_eq!((e.column, e.found.as_str()), (4, "end of input"));
        let e = err("a )");
        assert_eq!(e.column, 3);
        // Columns count characters, not bytes.
        let e = err("é b");
        assert_eq!(e.column, 3);
    }

    #[test]
    fn render_points_at_the_column() {
        let src = "nixl and";
        assert_eq!(
            err(src).render(src),
            "nixl and\n        ^ expected a word, `not` or `(`, found end of input"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(err(&deep).expected.contains("nested"));
        let nots = format!("{}a", "not ".repeat(10_000));
        assert!(Expr::parse(&nots).is_err());
        // Long flat chains are fine.
        let chain = vec!["a"; 50_000].join(" or ");
        assert!(holds(&chain, &["a"]));
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(holds(&ok, &["a"]));
    }

    fn tokens() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("and".to_owned()),
            Just("or".to_owned()),
            Just("not".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            "[a-c]",
            "[ -~]{0,3}",
        ];
        prop::collection::vec(token, 0..20).prop_map(|t| t.join(" "))
    }

    proptest! {
        // Case count: PROPTEST_CASES (proptest reads it; 256 by default).

        #[test]
        fn never_panics_on_any_string(src in "\\PC{0,64}") {
            let _ = Expr::parse(&src).map(|e| e.eval(&mut |w| w.len() % 2 == 0));
        }

        #[test]
        fn never_panics_on_token_soup(src in tokens()) {
            if let Ok(e) = Expr::parse(&src) {
                // Re-parsing the canonical form gives the same tree.
                prop_assert_eq!(Expr::parse(&e.to_string()), Ok(e));
            } else if let Err(e) = Expr::parse(&src) {
                prop_assert!(e.column >= 1 && e.column <= src.chars().count() + 1);
            }
        }

        #[test]
        fn de_morgan_and_double_negation(a: bool, b: bool, c: bool) {
            let truth = |src: &str| {
                Expr::parse(src).unwrap().eval(&mut |w| match w {
                    "a" => a,
                    "b" => b,
                    _ => c,
                })
            };
            prop_assert_eq!(truth("not (a or b)"), truth("not a and not b"));
            prop_assert_eq!(truth("not (a and b)"), truth("not a or not b"));
            prop_assert_eq!(truth("not not a"), a);
            prop_assert_eq!(truth("a or b and c"), a || (b && c));
            prop_assert_eq!(truth("(a or b) and c"), (a || b) && c);
            prop_assert_eq!(truth("a and (b or c)"), truth("a and b or a and c"));
        }
    }
}
