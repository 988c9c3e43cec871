// The stall found in the guest (harness/guest/channel.ts, KEEPALIVE_MS): the guest's sshd acts
// on the host's last bytes only once more bytes follow. Here a real ssh2 server sits behind a
// proxy that, once armed, holds the next chunk from the client until another chunk arrives. The
// channel's keepalive is that next chunk, so the command completes instead of waiting out its
// timeout (without keepalives this test ends in HarnessTimeoutError).
import test from 'ava';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { GuestChannel, publicKeyBlob } from '../../harness/vm/channel.js';
import { testTempDir } from '../tmp.js';

const { Server, utils } = ssh2;

/** client -> server bytes; once armed, the next chunk waits for the one after it */
class StallingProxy {
  armed = false;
  held?: Buffer;
  released = 0;
  forward(chunk: Buffer, to: Socket): void {
    if (this.held) {
      to.write(this.held);
      this.held = undefined;
      this.released++;
    }
    if (this.armed) {
      this.armed = false;
      this.held = chunk;
      return;
    }
    to.write(chunk);
  }
}

test('a command whose request the server sees only after the next packet completes: the keepalive is that packet', async (t) => {
  const dir = testTempDir('pinlab-stall-');
  const hostKey = utils.generateKeyPairSync('ed25519');
  const clientKey = utils.generateKeyPairSync('ed25519');
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        const stream = acceptExec();
        stream.write('ok\n');
        stream.exit(0);
        stream.end();
      });
    });
  });
  const backend = join(dir, 'backend.sock');
  await new Promise<void>((resolve) => server.listen(backend, resolve));
  const proxy = new StallingProxy();
  const front = join(dir, 'front.sock');
  const sockets: Socket[] = [];
  const frontServer = createServer((c) => {
    const b = connect(backend);
    sockets.push(c, b);
    c.on('data', (chunk: Buffer) => proxy.forward(chunk, b));
    b.on('data', (chunk: Buffer) => c.write(chunk));
    c.on('close', () => b.destroy());
    b.on('close', () => c.destroy());
  });
  await new Promise<void>((resolve) => frontServer.listen(front, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    frontServer.close();
    server.close();
  });

  const channel = await GuestChannel.connect(
    front,
    { clientPrivateKey: Buffer.from(clientKey.private), authorizedKey: clientKey.public, hostKeyFile: '', hostKeyBlob: publicKeyBlob(hostKey.public) },
    { readyTimeoutMs: 10_000 },
  );
  t.teardown(() => channel.close());
  t.is((await channel.exec('true', { timeoutMs: 10_000 })).stdout, 'ok\n', 'an unstalled command');
  proxy.armed = true;
  const r = await channel.exec('true', { timeoutMs: 10_000 });
  t.like(r, { exitCode: 0, stdout: 'ok\n' });
  t.true(proxy.released >= 1, 'the held chunk was released by a later one');
});
