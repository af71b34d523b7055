// The TypeScript client `goofish-client` (npm) as a receiver for `benches/receive_cost.rs`:
// it logs in to the simulator with the cookie it printed, registers, and counts the
// formatted messages it gets, printing "live" once and then "count N" every 1,000 messages
// and at the end of each quiet second. The package is installed outside this repository;
// its directory comes in GOOFISH_CLIENT_DIR (the one holding node_modules).
const path = require("path");
const dir = process.env.GOOFISH_CLIENT_DIR;
const { Goofish, LogLevel } = require(path.join(dir, "node_modules", "goofish-client"));
const info = JSON.parse(process.argv[2]);

async function main() {
  const client = new Goofish({
    cookie: info.cookie,
    level: LogLevel.ERROR,
    mtop: { baseURL: info.http },
    im: { wsUrl: info.ws, autoReconnect: false },
  });
  const token = await client.api.mtop.im.getLoginToken();
  await client.wsClientIm.connect();
  await client.api.im.auth.register({ token: token.data.accessToken });
  let count = 0;
  let lastReported = -1;
  client.api.im.message.onFormattedMessage((msg) => {
    // Format it as a receiver would show it; the work counts, the line is not written.
    const line = JSON.stringify({ cid: msg.cid, text: msg.text, sender: msg.senderUserId });
    if (line.length > 0) count += 1;
    if (count % 1000 === 0) {
      process.stdout.write(`count ${count}\n`);
      lastReported = count;
    }
  });
  process.stdout.write("live\n");
  setInterval(() => {
    if (count !== lastReported) {
      process.stdout.write(`count ${count}\n`);
      lastReported = count;
    }
  }, 1000);
}

main().catch((e) => {
  process.stderr.write(`goofish-client failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
