// A throwaway project folder holding the given files, for the loaders' unit tests.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export function tempProject(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tdbs-files-"));
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  return root;
}
