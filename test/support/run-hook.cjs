// Runs one dynamic provider's create in a process of its own, so a test can kill it half-way.
// Usage: node test/support/run-hook.cjs <provider-text-file> <inputs-json-file>
// Loads the provider the way Pulumi's dynamic-provider host does: require-from-string, then handler().
const fs = require("fs");
const requireFromString = require("require-from-string");
const [providerFile, inputsFile] = process.argv.slice(2);
const provider = requireFromString(fs.readFileSync(providerFile, "utf8")).handler();
provider.create(JSON.parse(fs.readFileSync(inputsFile, "utf8"))).then(
  (result) => {
    process.stdout.write(JSON.stringify(result.outs));
    process.exit(0);
  },
  (error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(1);
  },
);
