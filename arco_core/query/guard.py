"""Lexical checks on user SQL, run before DataFusion sees the text.

DataFusion's read-only ``SQLOptions`` already refuse DDL, DML and statements; this scanner
adds what the options cannot express: a byte limit, exactly one statement whose first
keyword is SELECT or WITH, and no ``SELECT ... INTO``. It understands ``--`` and (nested)
``/* */`` comments, single-quoted strings (``''`` escapes, ``E'...'`` backslash escapes),
dollar-quoted strings and double-quoted/backtick identifiers, so keywords and semicolons
hidden in any of those do not count, and an unterminated construct is refused. The same
tokens give :func:`dotted_names`, the ``a.b[.c]`` names an engine looks up as tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from arco_core.errors import InvalidArgument

MAX_SQL_BYTES = 10_000

__all__ = ["MAX_SQL_BYTES", "Token", "check_select_only", "dotted_names", "tokenize"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word", "punct", "string", "ident"
    text: str


def _bad(message: str, reason: str = "invalid_sql") -> InvalidArgument:
    return InvalidArgument(message, reason=reason)


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 1
    i += 2
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise _bad("unterminated /* comment")


def _skip_quoted(sql: str, i: int, quote: str, *, backslash: bool = False) -> int:
    """Index after the closing ``quote`` of the literal opening at ``i``."""
    i += 1
    while i < len(sql):
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    what = "identifier" if quote in ('"', "`") else "string literal"
    raise _bad(f"unterminated quoted {what}")


def _dollar_tag(sql: str, i: int) -> str | None:
    end = sql.find("$", i + 1)
    if end < 0:
        return None
    tag = sql[i : end + 1]
    body = tag[1:-1]
    if body and not (body.replace("_", "").isalnum() and not body[0].isdigit()):
        return None
    return tag


def tokenize(sql: str) -> list[Token]:
    """Words, punctuation, strings and quoted identifiers; comments are dropped."""
    tokens: list[Token] = []
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif ch in ("E", "e") and i + 1 < n and sql[i + 1] == "'":
            end = _skip_quoted(sql, i + 1, "'", backslash=True)
            tokens.append(Token("string", sql[i:end]))
            i = end
        elif ch == "'":
            end = _skip_quoted(sql, i, "'")
            tokens.append(Token("string", sql[i:end]))
            i = end
        elif ch in ('"', "`"):
            end = _skip_quoted(sql, i, ch)
            tokens.append(Token("ident", sql[i:end]))
            i = end
        elif ch == "$" and (tag := _dollar_tag(sql, i)) is not None:
            end = sql.find(tag, i + len(tag))
            if end < 0:
                raise _bad("unterminated dollar-quoted string")
            tokens.append(Token("string", sql[i : end + len(tag)]))
            i = end + len(tag)
        elif ch.isalnum() or ch == "_":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            tokens.append(Token("word", sql[i:j]))
            i = j
        else:
            tokens.append(Token("punct", ch))
            i += 1
    return tokens


def check_select_only(sql: str) -> str:
    """Return the statement without a trailing ``;``; raise InvalidArgument otherwise."""
    if not isinstance(sql, str):
        raise _bad("sql must be a string")
    if len(sql.encode("utf-8")) > MAX_SQL_BYTES:
        raise _bad(
            f"sql exceeds the maximum length of {MAX_SQL_BYTES} bytes", reason="sql_too_long"
        )
    text = sql.strip()
    if not text:
        raise _bad("sql cannot be empty", reason="sql_empty")
    if "\x00" in text:
        raise _bad("sql must not contain NUL characters")
    tokens = tokenize(text)
    while tokens and tokens[-1] == Token("punct", ";"):
        tokens.pop()
    if not tokens:
        raise _bad("sql cannot be empty", reason="sql_empty")
    if any(t == Token("punct", ";") for t in tokens):
        raise _bad("only single-statement queries are supported", reason="multiple_statements")
    first = next((t for t in tokens if t != Token("punct", "(")), None)
    if first is None or first.kind != "word" or first.text.upper() not in ("SELECT", "WITH"):
        raise _bad("Only SELECT/CTE queries are supported", reason="not_a_query")
    words = {t.text.upper() for t in tokens if t.kind == "word"}
    if "INTO" in words:
        raise _bad("SELECT ... INTO is not allowed: queries are read-only", reason="select_into")
    # Strip a trailing semicolon (and anything after it that was only comments/space).
    return _strip_trailing_semicolons(text)


def _strip_trailing_semicolons(text: str) -> str:
    # Only called once the scan proved every ';' is trailing; cut at the first one that is
    # outside quotes and comments by re-scanning positions.
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i)
        elif ch in ("E", "e") and i + 1 < n and text[i + 1] == "'":
            i = _skip_quoted(text, i + 1, "'", backslash=True)
        elif ch == "'":
            i = _skip_quoted(text, i, "'")
        elif ch in ('"', "`"):
            i = _skip_quoted(text, i, ch)
        elif ch == "$" and (tag := _dollar_tag(text, i)) is not None:
            end = text.find(tag, i + len(tag))
            i = end + len(tag)
        elif ch == ";":
            return text[:i].rstrip()
        else:
            i += 1
    return text


def _ident(token: Token, *, normalize: bool) -> str | None:
    if token.kind == "word":
        return token.text.lower() if normalize else token.text
    if token.kind == "ident":
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)
    return None


def dotted_names(tokens: list[Token], *, normalize: bool) -> set[tuple[str, ...]]:
    """Every contiguous 2- and 3-part slice of each ``a.b.c...`` chain in the text."""
    out: set[tuple[str, ...]] = set()
    i = 0
    while i < len(tokens):
        first = _ident(tokens[i], normalize=normalize)
        if first is None:
            i += 1
            continue
        chain = [first]
        j = i + 1
        while (
            j + 1 < len(tokens)
            and tokens[j] == Token("punct", ".")
            and (part := _ident(tokens[j + 1], normalize=normalize)) is not None
        ):
            chain.append(part)
            j += 2
        for size in (2, 3):
            for start in range(len(chain) - size + 1):
                out.add(tuple(chain[start : start + size]))
        i = j if j > i + 1 else i + 1
    return out
