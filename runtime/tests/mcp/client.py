"""Drives `skill-run mcp` with the official Python MCP SDK (the `mcp` package).

Run by runtime/tests/mcp.rs as `python client.py CONFIG_JSON` (or `@FILE`). CONFIG_JSON says
how to connect and what to do; the script prints one JSON document on stdout
(lines starting with `event:` come first for scenarios that talk to the test
while they run). Everything asserted lives in the Rust test: this script only
reports what the client saw.

Connection keys: "transport" ("stdio" | "http"), "command" (argv, stdio),
"env" (extra environment, stdio), "url" (http), "headers" (http), "mode"
("legacy" for the 2025-11-25 initialize handshake, or "2026-07-28").
"""

import asyncio
import json
import sys
import time

import anyio
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def connect(config, **kwargs):
    mode = config.get("mode", "legacy")
    if config["transport"] == "stdio":
        command = config["command"]
        server = StdioServerParameters(command=command[0], args=command[1:], env=config.get("env"))
    else:
        headers = config.get("headers") or {}
        http_client = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))
        server = streamable_http_client(config["url"], http_client=http_client)
    return Client(server, mode=mode, cache=None, **kwargs)


def dump_result(result):
    """What a test needs of a CallToolResult."""
    return {
        "isError": bool(result.is_error),
        "structuredContent": result.structured_content,
        "text": [c.text for c in result.content if getattr(c, "type", None) == "text"],
        "meta": result.meta,
    }


async def call(client, tool, arguments):
    try:
        return dump_result(await client.call_tool(tool, arguments))
    except MCPError as e:
        return {"jsonrpcError": {"code": e.error.code, "message": e.error.message}}


async def scenario_list(client, config):
    tools = await client.list_tools()
    prompts = await client.list_prompts()
    resources = await client.list_resources()
    out = {
        "protocolVersion": client.protocol_version,
        "serverName": client.server_info.name if client.server_info else None,
        "capabilities": client.server_capabilities.model_dump(by_alias=True, mode="json", exclude_none=True),
        "tools": [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools.tools],
        "prompts": [p.model_dump(by_alias=True, mode="json", exclude_none=True) for p in prompts.prompts],
        "resources": [r.model_dump(by_alias=True, mode="json", exclude_none=True) for r in resources.resources],
        "reads": {},
        "promptTexts": {},
    }
    for uri in config.get("read", []):
        try:
            read = await client.read_resource(uri)
            out["reads"][uri] = [c.model_dump(by_alias=True, mode="json", exclude_none=True) for c in read.contents]
        except MCPError as e:
            out["reads"][uri] = {"jsonrpcError": {"code": e.error.code, "message": e.error.message}}
    for name in config.get("prompts", []):
        got = await client.get_prompt(name)
        out["promptTexts"][name] = [m.content.text for m in got.messages]
    return out


async def scenario_calls(client, config):
    return {"results": [await call(client, c["tool"], c["arguments"]) for c in config["calls"]]}


async def scenario_concurrent(client, config):
    calls = config["calls"]
    results = [None] * len(calls)
    started = time.monotonic()

    async def one(i, c):
        results[i] = await call(client, c["tool"], c["arguments"])

    async with anyio.create_task_group() as group:
        for i, c in enumerate(calls):
            group.start_soon(one, i, c)
    return {"results": results, "seconds": time.monotonic() - started}


async def scenario_watch(client, config):
    """Lists tools, tells the test, waits for it to change a package, then
    polls until `gone` is no longer listed (or the deadline passes)."""
    before = [t.name for t in (await client.list_tools()).tools]
    print("event: listed", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.readline)
    deadline = time.monotonic() + config.get("timeout", 30)
    after = before
    while time.monotonic() < deadline:
        after = [t.name for t in (await client.list_tools()).tools]
        if config["gone"] not in after:
            break
        await anyio.sleep(0.2)
    calls = [await call(client, c["tool"], c["arguments"]) for c in config.get("calls", [])]
    return {"before": before, "after": after, "calls": calls}


async def scenario_abandon(client, config):
    """Starts `slow` and abandons it after `after` seconds by cancelling the
    request; the test then checks the server with another client."""
    outcome = {"finished": False}

    async def slow():
        await client.call_tool(config["slow"]["tool"], config["slow"]["arguments"])
        outcome["finished"] = True

    with anyio.move_on_after(config["after"]):
        await slow()
    return outcome


SCENARIOS = {
    "list": scenario_list,
    "calls": scenario_calls,
    "concurrent": scenario_concurrent,
    "watch": scenario_watch,
    "abandon": scenario_abandon,
}


async def main():
    arg = sys.argv[1]
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            config = json.load(f)
    else:
        config = json.loads(arg)
    notifications = []

    async def on_message(message):
        if isinstance(message, types.ServerNotification) or hasattr(message, "method"):
            notifications.append(getattr(message, "method", type(message).__name__))

    async with connect(config, message_handler=on_message) as client:
        out = await SCENARIOS[config["scenario"]](client, config)
    out["notifications"] = notifications
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
