/**
 * `npm run create-admin -- --email you@example.com [--key KEY]`: creates an `image-admin` user in the
 * configured storage (STORAGE_ACCOUNT_NAME with your Azure login, or STORAGE_CONNECTION_STRING) and
 * prints its secret once; only its scrypt hash is stored.
 */
import { parseArgs } from "node:util";
import { newApiKey, newApiSecret, UserStore } from "../shared/auth.js";
import { loadConfig } from "../shared/config.js";
import { createStorageClients } from "../shared/storage/clients.js";
import { statusOf } from "../shared/storage/tableErrors.js";

const { values } = parseArgs({ options: { email: { type: "string" }, key: { type: "string" }, help: { type: "boolean" } } });
if (values.help || !values.email) {
  console.log("usage: npm run create-admin -- --email you@example.com [--key KEY]\n(needs STORAGE_ACCOUNT_NAME and `az login`, or STORAGE_CONNECTION_STRING)");
  process.exit(values.help ? 0 : 2);
}
const config = loadConfig();
const clients = createStorageClients(config);
try {
  await clients.tableService.createTable(config.table("users"));
} catch (error) {
  if (statusOf(error) !== 409) throw error;
}
const users = new UserStore(clients.table("users"));
const apikey = values.key ?? newApiKey();
if (await users.getUser(apikey)) {
  console.error(`a user with key ${apikey} exists already; choose another --key`);
  process.exit(1);
}
const secret = newApiSecret();
await users.putUser(apikey, secret, "image-admin", values.email);
console.log(
  `image-admin ${values.email} created.\nAuthentication-Key: ${apikey}\nAuthentication-Secret: ${secret}\nThe secret is shown only now; store it safely.`,
);
