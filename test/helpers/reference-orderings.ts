import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The orderings the reference tools print, one per pair; "invalid" when the tool refuses to compare the pair. */
export type OrderSymbol = "<" | "=" | ">" | "invalid";

export interface ReferenceAnswer {
  order: OrderSymbol;
  /** What the tool made of each side (Maven: the canonical form; RPM: [epoch, version, release] as JSON). */
  left: string;
  right: string;
}

export interface ReferenceRun {
  /** The tool and its version, e.g. "maven-artifact 3.8.7". */
  tool: string;
  answers: ReferenceAnswer[];
}

const MAVEN_LIB = "/usr/share/maven/lib";
const MAVEN_HINT =
  "the Maven differential test needs Debian's maven and default-jdk-headless packages " +
  "(apt-get install -y maven default-jdk-headless; .ci/run installs them)";
const RPM_HINT =
  "the RPM differential test needs Debian's python3-rpm for /usr/bin/python3 " +
  "(apt-get install -y python3-rpm; .ci/run installs it)";

/** The maven-artifact jar Debian's maven package ships (its name carries the major version only). */
export function findMavenArtifactJar(): string {
  const names = existsSync(MAVEN_LIB) ? readdirSync(MAVEN_LIB) : [];
  const jar = names.find((n) => /^maven-artifact-[0-9].*\.jar$/.test(n));
  if (jar === undefined) throw new Error(`no ${MAVEN_LIB}/maven-artifact-*.jar: ${MAVEN_HINT}`);
  return realpathSync(join(MAVEN_LIB, jar));
}

// Reads "a<TAB>b" lines as UTF-8 and prints "<", "=" or ">" with both canonical forms, after a first line
// naming the maven-artifact version (from the jar's manifest).
const MAVEN_ORDER_JAVA = `
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class MavenOrder {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, false, "UTF-8");
    out.println("maven-artifact " + ComparableVersion.class.getPackage().getImplementationVersion());
    String line;
    while ((line = in.readLine()) != null) {
      int tab = line.indexOf('\\t');
      ComparableVersion a = new ComparableVersion(line.substring(0, tab));
      ComparableVersion b = new ComparableVersion(line.substring(tab + 1));
      int c = a.compareTo(b);
      out.println((c < 0 ? "<" : c > 0 ? ">" : "=") + "\\t" + a.getCanonical() + "\\t" + b.getCanonical());
    }
    out.flush();
  }
}
`;

// Parses each side with rpm.ver (rpmverParse, as rpm reads an EVR string) and orders the parts with
// rpm.labelCompare, where a missing release sorts below any release; labelCompare raises ValueError for a
// version it refuses (an empty version part), printed as "invalid".
const RPM_ORDER_PY = `
import json
import sys
import rpm
lines = sys.stdin.buffer.read().decode("utf-8").split("\\n")
out = ["rpm " + rpm.__version__]
for line in lines:
    if not line:
        continue
    a, b = line.split("\\t")
    x, y = rpm.ver(a), rpm.ver(b)
    try:
        c = rpm.labelCompare((x.e, x.v, x.r), (y.e, y.v, y.r))
        order = "<" if c < 0 else ">" if c > 0 else "="
    except ValueError:
        order = "invalid"
    out.append("\\t".join([order, json.dumps([x.e, x.v, x.r]), json.dumps([y.e, y.v, y.r])]))
sys.stdout.buffer.write(("\\n".join(out) + "\\n").encode("utf-8"))
`;

function runTool(
  command: string,
  args: readonly string[],
  pairs: ReadonlyArray<readonly [string, string]>,
  hint: string,
): ReferenceRun {
  for (const [a, b] of pairs)
    if (/[\t\n\r]/.test(a + b)) throw new Error(`pair ${JSON.stringify([a, b])} cannot be sent one per line`);
  const result = spawnSync(command, args, {
    input: pairs.map(([a, b]) => `${a}\t${b}\n`).join(""),
    encoding: "utf8",
    maxBuffer: 1 << 28,
    timeout: 120_000,
  });
  if (result.error !== undefined || result.status !== 0)
    throw new Error(
      `${command} failed (${result.error?.message ?? `exit ${result.status}`}): ${(result.stderr ?? "").slice(0, 500)}; ${hint}`,
    );
  const [tool = "", ...rest] = result.stdout.split("\n");
  const answers = rest
    .filter((l) => l !== "")
    .map((l) => {
      const [order, left = "", right = ""] = l.split("\t");
      if (order !== "<" && order !== "=" && order !== ">" && order !== "invalid")
        throw new Error(`unexpected answer line ${l}`);
      return { order, left, right } satisfies ReferenceAnswer;
    });
  if (answers.length !== pairs.length)
    throw new Error(`${command} answered ${answers.length} of ${pairs.length} pairs`);
  return { tool, answers };
}

/**
 * Orders pairs with the real org.apache.maven.artifact.versioning.ComparableVersion: compiles a small Java program
 * against Debian's maven-artifact jar with javac and feeds it every pair in one run. Throws with an install hint
 * when a tool is missing.
 */
export function mavenReferenceOrder(pairs: ReadonlyArray<readonly [string, string]>): ReferenceRun {
  const jar = findMavenArtifactJar();
  const dir = mkdtempSync(join(tmpdir(), "autopatch-maven-order-"));
  try {
    writeFileSync(join(dir, "MavenOrder.java"), MAVEN_ORDER_JAVA);
    const javac = spawnSync("javac", ["-cp", jar, "-d", dir, join(dir, "MavenOrder.java")], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (javac.error !== undefined || javac.status !== 0)
      throw new Error(
        `javac failed (${javac.error?.message ?? `exit ${javac.status}`}): ${(javac.stderr ?? "").slice(0, 500)}; ${MAVEN_HINT}`,
      );
    return runTool("java", ["-cp", `${jar}:${dir}`, "MavenOrder"], pairs, MAVEN_HINT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Orders EVR pairs with rpm's own code through Debian's python3-rpm, run by the system /usr/bin/python3 (the
 * module is built for it, not for another python on the PATH). Throws with an install hint when it is missing.
 */
export function rpmReferenceOrder(pairs: ReadonlyArray<readonly [string, string]>): ReferenceRun {
  const python = "/usr/bin/python3";
  const probe = spawnSync(python, ["-c", "import rpm"], { encoding: "utf8", timeout: 30_000 });
  if (probe.error !== undefined || probe.status !== 0)
    throw new Error(`${python} cannot import rpm: ${RPM_HINT}`);
  return runTool(python, ["-c", RPM_ORDER_PY], pairs, RPM_HINT);
}
