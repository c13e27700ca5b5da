// Signs the requests given on stdin (a JSON list) with the AWS SDK for JavaScript's SigV4 signer and
// prints them signed (a JSON list of {headers, query}). Each request: method, hostname, port, path
// (percent-encoded, as the SDK's serializers build it), query ({name: value or [values]}), headers,
// body (base64), region, accessKeyId, secretAccessKey, and presignExpires for a presigned request.
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const results = [];
for (const item of input) {
  const signer = new SignatureV4({
    service: "lookoutvision",
    region: item.region,
    credentials: { accessKeyId: item.accessKeyId, secretAccessKey: item.secretAccessKey },
    sha256: Sha256,
  });
  const request = {
    method: item.method,
    protocol: "http:",
    hostname: item.hostname,
    port: item.port,
    path: item.path,
    query: item.query,
    headers: { host: `${item.hostname}:${item.port}`, ...item.headers },
    body: item.body ? Buffer.from(item.body, "base64") : undefined,
  };
  const signed = item.presignExpires
    ? await signer.presign(request, { expiresIn: item.presignExpires })
    : await signer.sign(request);
  results.push({ headers: signed.headers, query: signed.query || {} });
}
process.stdout.write(JSON.stringify(results));
