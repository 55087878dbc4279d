// Hostile guest: escape attempts in JavaScript idioms, for the JS contract cases.
import { getEnvironment } from 'wasi:cli/environment@0.2.12';
import { instanceNetwork } from 'wasi:sockets/instance-network@0.2.12';
import { createTcpSocket } from 'wasi:sockets/tcp-create-socket@0.2.12';
import { readText as fsRead, writeText as fsWrite } from './skill-sdk/fs.js';
import { send } from './skill-sdk/channels.js';

function why(e) {
  if (e && e.code) return `${e.name}: ${e.code}`;
  if (e && e.payload !== undefined) return `ComponentError: ${JSON.stringify(e.payload)}`;
  return `${e && e.name ? e.name : 'Error'}: ${e && e.message ? e.message : e}`;
}

export function readText(path) {
  try {
    return fsRead(path);
  } catch (e) {
    throw why(e);
  }
}

export function writeText(path, text) {
  try {
    fsWrite(path, text);
    return fsRead(path);
  } catch (e) {
    throw why(e);
  }
}

export function envVar(name) {
  const found = getEnvironment().find(([k]) => k === name);
  return found ? found[1] : undefined;
}

export function envNames() {
  return getEnvironment().map(([k]) => k).sort();
}

export async function fetchText(url) {
  try {
    const response = await fetch(url);
    return await response.text();
  } catch (e) {
    throw why(e);
  }
}

export function tcpConnect(host, port) {
  try {
    const socket = createTcpSocket('ipv4');
    const parts = host.split('.').map(Number);
    socket.startConnect(instanceNetwork(), {
      tag: 'ipv4',
      val: { port, address: parts },
    });
    return 'connect started';
  } catch (e) {
    throw why(e);
  }
}

export function hoard(mib) {
  const held = [];
  try {
    for (let i = 0; i < mib; i++) {
      const b = new Uint8Array(1024 * 1024);
      b.fill(1);
      held.push(b);
    }
  } catch (e) {
    throw why(e);
  }
  return held.length;
}

export function loopForever() {
  let n = 0;
  for (;;) {
    n++;
  }
}

export function shout(mib) {
  const line = 'x'.repeat(1023);
  for (let i = 0; i < mib * 1024; i++) {
    console.log(line);
  }
  return mib;
}

export function say(channel, message) {
  try {
    send(channel, message);
  } catch (e) {
    throw why(e);
  }
}
