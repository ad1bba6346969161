#!/usr/bin/env python3
"""ClickHouse's HTTP interface on loopback, answered by the ClickHouse engine of chDB (26.9).

Debian packages only ClickHouse 18.16; this serves a modern engine to the connector's tests and the
benchmarks. It implements the part of the HTTP interface that ClickHouse clients use:

  GET /ping -> "Ok.\\n"
  GET|POST /?query=...       statement = URL `query`, then "\\n", then the body (ClickHouse's rule);
                             without `query` the body is the statement
  INSERT ... FORMAT <name>   the body after the statement is data, streamed into the engine in
                             chunks (constant memory, binary formats included)
  Content-Encoding           gzip, deflate, zstd and lz4 request bodies are decoded
  decompress=1               the body is ClickHouse compressed blocks (0x02 none, 0x82 LZ4, 0x90 ZSTD)
  database=, default_format=, query_id=, param_<name>=, any other parameter = a setting
  GET requests run with readonly=2, as on a server
  errors                     "Code: N. DB::Exception: ..." with the server's HTTP status for that
                             error and the X-ClickHouse-Exception-Code header
  one statement per request  "a; b" is refused with SYNTAX_ERROR (62), as a server does

Each request gets its own engine connection, so settings and USE never leak between requests; an
anchor connection keeps the embedded engine alive between them. X-ClickHouse-User/Key are accepted
and not checked (there are no users). Responses are buffered: an error never follows a 200.

usage: clickhouse_http.py --host 127.0.0.1 --port 18124 --path DATA_DIR
"""
import argparse
import json
import re
import signal
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session
import chdb

try:
    import lz4.block as lz4_block
    import lz4.frame as lz4_frame
except ImportError:  # decompress=1 with LZ4 then answers a clear error
    lz4_block = lz4_frame = None
try:
    import zstandard
except ImportError:
    zstandard = None

INSERT_CHUNK = 1 << 20

# Parameters that are not settings.
NOT_SETTINGS = {
    "query", "database", "default_format", "query_id", "decompress", "compress", "session_id",
    "session_timeout", "session_check", "user", "password", "quota_key", "buffer_size",
    "wait_end_of_query", "client_protocol_version", "stacktrace",
}
# chDB starts as clickhouse-local; a server differs in these defaults.
SERVER_SETTINGS = (("implicit_select", "0"), ("mutations_sync", "0"))

# The HTTP status ClickHouse answers for an exception, by exception name (the rest: 500).
STATUS_BY_NAME = {}
for status, names in {
    400: "BAD_ARGUMENTS SYNTAX_ERROR TYPE_MISMATCH INCORRECT_DATA ILLEGAL_COLUMN DUPLICATE_COLUMN "
         "THERE_IS_NO_COLUMN CANNOT_PARSE_TEXT CANNOT_PARSE_NUMBER CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME "
         "CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_ESCAPE_SEQUENCE CANNOT_PARSE_UUID CANNOT_PARSE_INPUT_ASSERTION_FAILED "
         "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE TOO_DEEP_AST TOO_BIG_AST UNEXPECTED_AST_STRUCTURE "
         "UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE",
    403: "ACCESS_DENIED UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED READONLY",
    404: "UNKNOWN_TABLE UNKNOWN_DATABASE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE "
         "UNKNOWN_SETTING UNKNOWN_FORMAT UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY",
    408: "TIMEOUT_EXCEEDED",
    411: "HTTP_LENGTH_REQUIRED",
    413: "QUERY_IS_TOO_LARGE",
    501: "NOT_IMPLEMENTED",
}.items():
    for name in names.split():
        STATUS_BY_NAME[name] = status


class ServerError(Exception):
    """An exception as ClickHouse reports it: code, name and the text after "DB::Exception: "."""

    def __init__(self, code, name, message):
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    @staticmethod
    def from_engine(error):
        text = str(error).strip()
        match = re.match(r"Code: (\d+)\. DB::Exception: (.*)", text, re.S)
        if not match:
            return ServerError(1001, "STD_EXCEPTION", text)
        name = re.search(r"\(([A-Z_]+)\)\s*$", match.group(2))
        return ServerError(int(match.group(1)), name.group(1) if name else "", match.group(2))

    def status(self):
        return STATUS_BY_NAME.get(self.name, 500)

    def body(self):
        return f"Code: {self.code}. DB::Exception: {self.message}\n".encode()


# ---------------------------------------------------------------- statement text

def _skip_quoted(text, i):
    """The index after the quoted token starting at text[i] (', " or `), backslash escapes honoured."""
    quote = text[i]
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # doubled quote
                i += 2
                continue
            return i + 1
        i += 1
    return i


def code_positions(text):
    """Yields (index, char) for every character of `text` outside quotes and comments."""
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"`":
            i = _skip_quoted(text, i)
        elif text.startswith("--", i) or c == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        else:
            yield i, c
            i += 1


def second_statement_at(text):
    """The position of a second statement after a ';' (ClickHouse runs one per request), or None."""
    for i, c in code_positions(text):
        if c == ";":
            rest = "".join(ch for _, ch in code_positions(text[i + 1:]))
            if rest.strip():
                return i + 1
    return None


INSERT_FORMAT = re.compile(r"\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*INSERT\b", re.I | re.S)


def insert_format(statement):
    """For `INSERT ... FORMAT name` (data follows it), (the statement before FORMAT, name); else None.
    The first FORMAT outside quotes and comments counts: inline data may follow it."""
    if not INSERT_FORMAT.match(statement):
        return None
    keyword = re.compile(r"FORMAT\s+([A-Za-z][A-Za-z0-9_]*)(?![A-Za-z0-9_])", re.I)
    for i, c in code_positions(statement):
        if c in "Ff" and (i == 0 or not (statement[i - 1].isalnum() or statement[i - 1] == "_")):
            match = keyword.match(statement, i)
            if match:
                return statement[:i].rstrip(), match.group(1)
    return None


def inline_data_start(text, insert):
    """Where the data of `INSERT ... FORMAT name` begins in `text`: after the name, blanks and one
    line break."""
    head, fmt = insert
    match = re.compile(r"\s*FORMAT\s+" + re.escape(fmt) + r"[ \t]*\r?\n?", re.I).match(text, len(head))
    return match.end()


# ---------------------------------------------------------------- request bodies

class Body:
    """The request body as byte chunks: Content-Length or chunked transfer coding."""

    def __init__(self, handler):
        self.rfile = handler.rfile
        self.chunked = "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower()
        self.remaining = int(handler.headers.get("Content-Length") or 0)
        self.done = not self.chunked and self.remaining == 0

    def chunks(self):
        while not self.done:
            if self.chunked:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise ServerError(33, "CANNOT_READ_ALL_DATA", "the request body ended early")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self.done = True
                    return
                data = self.rfile.read(size)
                self.rfile.readline(1024)
                if len(data) < size:
                    raise ServerError(33, "CANNOT_READ_ALL_DATA", "the request body ended early")
                yield data
            else:
                data = self.rfile.read(min(self.remaining, INSERT_CHUNK))
                if not data:
                    raise ServerError(33, "CANNOT_READ_ALL_DATA", "the request body ended early")
                self.remaining -= len(data)
                self.done = self.remaining == 0
                yield data

    def drain(self):
        for _ in self.chunks():
            pass


def content_decoded(chunks, encoding):
    """Undoes a request's Content-Encoding (gzip, deflate, zstd, lz4 frames), chunk by chunk."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        yield from chunks
        return
    if encoding in ("gzip", "deflate"):
        decoder = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    elif encoding == "zstd" and zstandard is not None:
        decoder = zstandard.ZstdDecompressor().decompressobj()
    elif encoding == "lz4" and lz4_frame is not None:
        decoder = lz4_frame.LZ4FrameDecompressor()
    else:
        raise ServerError(48, "NOT_IMPLEMENTED", f"Content-Encoding {encoding} is not supported here")
    for chunk in chunks:
        out = decoder.decompress(chunk)
        if out:
            yield out


def decompressed(chunks):
    """Decodes ClickHouse compressed blocks: 16-byte checksum (not verified here), method byte,
    UInt32 compressed size (with the 9-byte header), UInt32 raw size, payload."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= 25:
            method, compressed_size, raw_size = struct.unpack_from("<BII", pending, 16)
            total = 16 + compressed_size
            if compressed_size < 9 or compressed_size > (1 << 30):
                raise ServerError(271, "CANNOT_DECOMPRESS", f"compressed block size {compressed_size} is invalid")
            if len(pending) < total:
                break
            payload = bytes(pending[25:total])
            del pending[:total]
            yield decode_block(method, payload, raw_size)
    if pending:
        raise ServerError(271, "CANNOT_DECOMPRESS", "the body ends inside a compressed block")


def decode_block(method, payload, raw_size):
    if method == 0x02:
        return payload
    if method == 0x82:
        if lz4_block is None:
            raise ServerError(48, "NOT_IMPLEMENTED", "LZ4 blocks need the lz4 Python module")
        return lz4_block.decompress(payload, uncompressed_size=raw_size)
    if method == 0x90:
        if zstandard is None:
            raise ServerError(48, "NOT_IMPLEMENTED", "ZSTD blocks need the zstandard Python module")
        return zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_size)
    raise ServerError(271, "CANNOT_DECOMPRESS", f"unknown compression method 0x{method:02x}")


# ---------------------------------------------------------------- the engine

class Engine:
    def __init__(self, path):
        self.path = path
        self.anchor = chdb_session.Session(path)  # while it is open, the embedded engine stays up
        self.anchor.query("SELECT 1")

    def connection(self, params, readonly):
        """A fresh connection with this request's database and settings."""
        conn = chdb_session.Session(self.path)
        try:
            for name, value in SERVER_SETTINGS:
                conn.query(f"SET {name} = {value}")
            if readonly and "readonly" not in params:
                conn.query("SET readonly = 2")
            if params.get("database"):
                conn.query("USE `" + params["database"].replace("\\", "\\\\").replace("`", "\\`") + "`")
            for name, value in params.items():
                if name in NOT_SETTINGS or name.startswith("param_"):
                    continue
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise ServerError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
                literal = value if re.fullmatch(r"-?\d+", value) else \
                    "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
                conn.query(f"SET {name} = {literal}")
        except BaseException:
            conn.close()
            raise
        return conn


def summary(**values):
    keys = ("read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
            "result_rows", "result_bytes", "elapsed_ns")
    return json.dumps({k: str(values.get(k, 0)) for k in keys}, separators=(",", ":"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dpone-clickhouse-http"
    engine = None

    def log_message(self, format, *args):  # quiet: errors go to the log below
        pass

    def do_GET(self):
        self.serve(readonly=True)

    def do_POST(self):
        self.serve(readonly=False)

    def serve(self, readonly):
        url = urlsplit(self.path)
        body = Body(self)
        if url.path in ("/ping", "/ping/"):
            body.drain()
            return self.reply(200, b"Ok.\n", [("Content-Type", "text/html; charset=UTF-8")])
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        headers = [("X-ClickHouse-Query-Id", query_id), ("X-ClickHouse-Timezone", "UTC")]
        try:
            status, out, extra = self.run(params, body, readonly)
            self.reply(status, out, headers + extra)
        except Exception as error:  # the engine's or ours: reported as ClickHouse reports it
            failure = error if isinstance(error, ServerError) else ServerError.from_engine(error)
            try:
                body.drain()  # keep the connection usable for the next request
            except Exception:
                self.close_connection = True
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} query {query_id} failed: {failure.body().decode()}")
            self.reply(failure.status(), failure.body(),
                       headers + [("Content-Type", "text/plain; charset=UTF-8"),
                                  ("X-ClickHouse-Exception-Code", str(failure.code))])

    def run(self, params, body, readonly):
        chunks = content_decoded(body.chunks(), self.headers.get("Content-Encoding"))
        if params.get("decompress") == "1":
            chunks = decompressed(chunks)
        statement = params.get("query")
        if statement is not None:
            insert = insert_format(statement)
            if insert is not None and not statement[inline_data_start(statement, insert):].strip():
                return self.insert(params, readonly, insert[0], insert[1], chunks)  # the body is the data
            rest = b"".join(chunks).decode()
            text = statement + "\n" + rest if rest else statement
        else:
            text = b"".join(chunks).decode()
        insert = insert_format(text)
        if insert is not None:  # INSERT ... FORMAT X with its data inline, after the statement
            data = text[inline_data_start(text, insert):].encode()
            return self.insert(params, readonly, insert[0], insert[1], iter([data]))
        return self.query(params, readonly, text)

    def insert(self, params, readonly, head, fmt, chunks):
        if readonly:
            raise ServerError(164, "READONLY", "Cannot execute query in readonly mode: use POST for INSERT")
        conn = self.engine.connection(params, readonly)
        try:
            inserter = conn.send_insert(head, fmt)
            try:
                for chunk in chunks:
                    if chunk:
                        inserter.append(chunk)
                result = inserter.finish()
            except BaseException:
                inserter.cancel()
                raise
        finally:
            conn.close()
        return 200, b"", [("Content-Type", "text/plain; charset=UTF-8"),
                          ("X-ClickHouse-Summary", summary(written_rows=result.rows_written,
                                                          written_bytes=result.bytes_written,
                                                          elapsed_ns=int(result.elapsed * 1e9)))]

    def query(self, params, readonly, statement):
        second = second_statement_at(statement)
        if second is not None:
            raise ServerError(62, "SYNTAX_ERROR",
                              f"Syntax error (Multi-statements are not allowed): failed at position {second + 1}")
        fmt = params.get("default_format") or "TabSeparated"
        query_params = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
        conn = self.engine.connection(params, readonly)
        try:
            result = conn.query(statement, fmt, params=query_params) if query_params else conn.query(statement, fmt)
            out = result.bytes()
            stats = summary(read_rows=result.rows_read(), read_bytes=result.bytes_read(),
                            written_rows=result.rows_written(), written_bytes=result.bytes_written(),
                            result_bytes=len(out), elapsed_ns=int(result.elapsed() * 1e9))
        finally:
            conn.close()
        return 200, out, [("Content-Type", "text/plain; charset=UTF-8"), ("X-ClickHouse-Summary", stats)]

    def reply(self, status, payload, headers):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5. Test suites open dozens of connections at once;
    # a connection that overflows the accept queue is later reset by the kernel (seen as
    # "Recv failure: Connection reset by peer" on its first request, which an insert never retries).
    # ClickHouse itself listens with a backlog of 4096.
    request_queue_size = 4096

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # a client that went away (killed, or cancelled a stream)
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} client {client_address[1]}: {error.strerror}\n")
        else:
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18124)
    parser.add_argument("--path", required=True, help="the engine's data directory (MergeTree data persists)")
    options = parser.parse_args()
    started = time.time()
    Handler.engine = Engine(options.path)
    server = Server((options.host, options.port), Handler)
    print(f"ClickHouse {chdb.engine_version} (chDB) on http://{options.host}:{options.port}/ "
          f"data {options.path}, ready in {time.time() - started:.2f}s", flush=True)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Handler.engine.anchor.close()


if __name__ == "__main__":
    main()
