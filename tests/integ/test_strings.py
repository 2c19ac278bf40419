"""Strings kept exactly (API.md 1): "\\u0000" in values and member names
survives PUT, merge patch, JSON patch, append and transactions byte for
byte, and bodies follow I-JSON: a name twice in one object is 400."""
import json

SERVER = {"workers": 2, "threads": 4}
MERGE = {"Content-Type": "application/merge-patch+json"}
JPATCH = {"Content-Type": "application/json-patch+json"}
J = {"Content-Type": "application/json"}


def put_raw(srv, key, value_text, headers=None):
    """PUT a value given as JSON text, so escapes go out as written."""
    return srv.request("PUT", "/api/storage/" + key,
                       '{"value":' + value_text + '}', headers)


def stored_text(srv, key):
    """The value's bytes as the server answers them (raw JSON text)."""
    body = srv.get("/api/storage/" + key).body
    start = body.index(b'"value":') + len(b'"value":')
    end = body.index(b',"version":')
    return body[start:end]


def test_put_keeps_escapes_byte_exact(srv):
    text = r'{"s":"x\u0000y","\u00e9t\u00e9":"\ud83d\ude00","n":1.50}'
    assert put_raw(srv, "str/put", text).status == 201
    assert stored_text(srv, "str/put") == text.encode()


def test_merge_patch_leaves_untouched_members_exact(srv):
    doc = r'{"s":"x\u0000y","k\u0000a":1,"k\u0000b":2,"n":1}'
    assert put_raw(srv, "str/merge", doc).status == 201
    r = srv.request("PATCH", "/api/storage/str/merge", '{"n":2}', MERGE)
    assert r.status == 200, r
    assert stored_text(srv, "str/merge") == \
        rb'{"s":"x\u0000y","k\u0000a":1,"k\u0000b":2,"n":2}'
    assert srv.get("/api/storage/str/merge").json["value"] == {
        "s": "x\0y", "k\0a": 1, "k\0b": 2, "n": 2}
    # a patch names a member by its decoded text: "k\u0000a", not "k"
    r = srv.request("PATCH", "/api/storage/str/merge",
                    r'{"k\u0000a":null,"k":7}', MERGE)
    assert r.status == 200, r
    assert srv.get("/api/storage/str/merge").json["value"] == {
        "s": "x\0y", "k\0b": 2, "n": 2, "k": 7}


def test_json_patch_test_and_replace_exact(srv):
    assert put_raw(srv, "str/jp", r'{"who":"alice\u0000","k\u0000x":1}').status == 201
    r = srv.request("PATCH", "/api/storage/str/jp",
                    r'[{"op":"test","path":"/who","value":"alice\u0000mallory"}]',
                    JPATCH)
    assert r.status == 409 and r.json["code"] == "PATCH_CONFLICT", r
    r = srv.request("PATCH", "/api/storage/str/jp",
                    r'[{"op":"test","path":"/who","value":"alice\u0000"},'
                    r'{"op":"replace","path":"/k\u0000x","value":"v\u0000w"}]',
                    JPATCH)
    assert r.status == 200, r
    assert stored_text(srv, "str/jp") == \
        rb'{"who":"alice\u0000","k\u0000x":"v\u0000w"}'
    # a path to "k" does not reach "k\u0000x"
    r = srv.request("PATCH", "/api/storage/str/jp",
                    '[{"op":"remove","path":"/k"}]', JPATCH)
    assert r.status == 409, r


def test_append_pointer_with_nul(srv):
    doc = '{"a":{"b":[]},"a\\u0000":{"b":[]}}'
    assert put_raw(srv, "str/app", doc).status == 201
    r = srv.request("POST", "/api/storage/str/app?append=/a%00/b",
                    '"x\\u0000y"', J)
    assert r.status == 200, r
    v = srv.get("/api/storage/str/app").json["value"]
    assert v == {"a": {"b": []}, "a\0": {"b": ["x\0y"]}}, v
    assert b'"x\\u0000y"' in stored_text(srv, "str/app")
    # stamped: "by" and "at" set by the server, the rest kept
    r = srv.request("POST", "/api/storage/str/app?append=/c&stamp=1",
                    '{"t":"\\u0000","by":"mallory"}', J)
    assert r.status == 200, r
    c = srv.get("/api/storage/str/app").json["value"]["c"]
    assert c[0]["t"] == "\0" and c[0]["by"] is None and c[0]["at"]


def test_txn_member_names_exact(srv):
    r = srv.request("POST", "/api/txn",
                    r'{"ops":[{"op":"put","key\u0000x":"str/t","key":"str/t",'
                    r'"value":1}]}', J)
    assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", r
    r = srv.request("POST", "/api/txn",
                    r'{"ops":[{"op":"put\u0000","key":"str/t","value":1}]}', J)
    assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", r
    r = srv.request("POST", "/api/txn", r'{"ops\u0000":[]}', J)
    assert r.status == 400, r
    r = srv.request("POST", "/api/txn",
                    r'{"ops":[{"op":"put","key":"str/t","value":"a\u0000b"},'
                    r'{"op":"patch","key":"str/t","merge":"c\u0000"}]}', J)
    assert r.status == 200, r
    assert stored_text(srv, "str/t") == rb'"c\u0000"'
    r = srv.request("PUT", "/api/storage/str/u",
                    r'{"value":1,"value\u0000":2}', J)
    assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", r


def test_duplicate_names_are_invalid_json(srv):
    for body in ['{"value":{"a":1,"a":2}}', '{"value":1,"value":2}',
                 '{"value":{"a":1,"\\u0061":2}}',
                 '{"value":[{"x":{"b":1,"c":2,"b":3}}]}']:
        r = srv.request("PUT", "/api/storage/str/dup", body, J)
        assert r.status == 400 and r.json["code"] == "INVALID_JSON", (body, r)
        assert "twice" in r.json["message"], r
    assert srv.get("/api/storage/str/dup").status == 404
    # the same names in different objects are fine, and so are near misses
    r = srv.request("PUT", "/api/storage/str/dup",
                    '{"value":{"a":{"a":1},"b":{"a":2},"a\\u0000":3}}', J)
    assert r.status == 201, r
    r = srv.request("PATCH", "/api/storage/str/dup", '{"a":3,"a":4}', MERGE)
    assert r.status == 400 and r.json["code"] == "INVALID_JSON", r
    r = srv.request("PATCH", "/api/storage/str/dup",
                    '[{"op":"add","path":"/z","value":1,"value":2}]', JPATCH)
    assert r.status == 400 and r.json["code"] == "INVALID_JSON", r
    assert srv.get("/api/storage/str/dup").json["version"] == 1


def test_invalid_json_names_the_byte(srv):
    r = srv.request("PUT", "/api/storage/str/bad", '{"value": [1, 2,]}', J)
    assert r.status == 400 and r.json["code"] == "INVALID_JSON", r
    assert "byte 16" in r.json["message"], r
