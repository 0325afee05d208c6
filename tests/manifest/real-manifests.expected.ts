/**
 * Reviewed expectations for every real manifest in ../shared/fixtures/manifests
 * (validated as bare text: no plugin directory, so "binary not found" is never
 * judged here; real-manifests.test.ts checks that part separately against an empty
 * directory). Each entry lists the exact errors and warnings, as "key path: message",
 * the resolved runtime, and the key paths `--strict` adds as unknown keys.
 *
 * Most published manifests are clean. The odd ones carry a comment saying why.
 */

export interface Expected {
  errors: string[];
  warnings: string[];
  /** Resolved runtime; absent when the manifest has errors (no Manifest is built). */
  runtime?: "wasm" | "native";
  commands?: number;
  /** Key paths `--strict` reports as unknown (ignored) keys. */
  unknown?: string[];
}

const LICENSE = ["plugin.license"];
const OLD_FORM_EXTRAS = ["plugin.license", "plugin.repository", "plugin.keywords", "plugin.min_fledge_version"];

export const MSG = {
  noCommands: "commands: No [[commands]] defined — plugin won't register any subcommands",
  oldCommandsForm:
    "plugin.commands: plugin.commands uses the old [plugin.commands.<name>] form, which fledge ignores: declare each command as a [[commands]] table with name and binary",
  noAuthor: "plugin.author: plugin.author is not set",
  authorsNotRead: 'plugin.author: plugin.author is not set (fledge does not read plugin.authors; write author = "...")',
  scaffoldDescription: "plugin.description: plugin.description is still the template text 'A fledge plugin': say what the plugin does",
  capsWithoutProtocol: (caps: string) =>
    `capabilities: [capabilities] asks for ${caps} but plugin.protocol is not set: a plain native plugin runs with your full rights and these settings have no effect (set protocol = "fledge-v1" to use them)`,
  networkWithoutHosts: 'capabilities.hosts: network = true but no hosts are listed: a wasm plugin can reach no host; add hosts = ["api.example.com"] under [capabilities]',
  shadowedByBuiltin: (name: string, index: number) =>
    `commands[${index}].name: Command '${name}' is shadowed by the built-in 'fledge ${name}': users can only run it as 'fledge plugins run ${name}'`,
} as const;

const clean = (commands = 1, unknown: string[] = []): Expected => ({ errors: [], warnings: [], runtime: "native", commands, unknown });
const cleanWasm = (): Expected => ({ errors: [], warnings: [], runtime: "wasm", commands: 1, unknown: [] });

export const EXPECTED: Record<string, Expected> = {
  "0xLeif__fledge-plugin-aps.toml": clean(),
  // Scaffold leftovers, and capabilities without a protocol: they do nothing for a plain native plugin.
  "0xLeif__fledge-plugin-release-notes.toml": {
    errors: [],
    warnings: [MSG.scaffoldDescription, MSG.capsWithoutProtocol("exec, store, metadata")],
    runtime: "native",
    commands: 1,
    unknown: LICENSE,
  },
  "0xLeif__fledge-plugin-swift-format.toml": clean(),
  "CorvidLabs__fledge-plugin-algochat.toml": clean(),
  "CorvidLabs__fledge-plugin-algochat__4b7cfbc.toml": clean(),
  // Two commands sharing one binary is fine; only names must be unique.
  "CorvidLabs__fledge-plugin-apple-music.toml": clean(2, LICENSE),
  "CorvidLabs__fledge-plugin-apple-music__e66c58e.toml": clean(2),
  "CorvidLabs__fledge-plugin-atlas.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-attest.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-augur.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-bench.toml": clean(),
  // An empty [hooks] table is valid.
  "CorvidLabs__fledge-plugin-bridge-client.toml": clean(),
  "CorvidLabs__fledge-plugin-bridge.toml": clean(),
  "CorvidLabs__fledge-plugin-canary-wasm.toml": cleanWasm(),
  // Our fledge has a built-in `fledge canary` (the sandbox self-test), which shadows this command.
  "CorvidLabs__fledge-plugin-canary.toml": { errors: [], warnings: [MSG.shadowedByBuiltin("canary", 0)], runtime: "native", commands: 2, unknown: [] },
  // The alternate manifest (plugin-wasm.toml) of the same repository: a wasm plugin, clean.
  "CorvidLabs__fledge-plugin-canary__plugin-wasm.toml": cleanWasm(),
  "CorvidLabs__fledge-plugin-color.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-corvid-agent.toml": clean(),
  "CorvidLabs__fledge-plugin-coverage.toml": clean(),
  "CorvidLabs__fledge-plugin-deploy.toml": clean(2),
  // An older hooks design: [[hooks]] (array of tables with event/binary). The original
  // fails to parse it too; we say precisely what is wrong.
  "CorvidLabs__fledge-plugin-deploy__9ba33fc.toml": {
    errors: ["hooks: hooks must be a table ([hooks], not [[hooks]]), got an array of tables"],
    warnings: [],
    unknown: [],
  },
  "CorvidLabs__fledge-plugin-deps.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-discord.toml": clean(),
  "CorvidLabs__fledge-plugin-docker.toml": clean(),
  "CorvidLabs__fledge-plugin-doctor.toml": clean(1, LICENSE),
  // binary = "fledge-e2e" at the plugin root: relative and inside, fine.
  "CorvidLabs__fledge-plugin-e2e.toml": clean(),
  "CorvidLabs__fledge-plugin-env.toml": clean(),
  "CorvidLabs__fledge-plugin-figma.toml": clean(2),
  // `args` on commands is an extension of other hosts: ignored, listed by --strict.
  "CorvidLabs__fledge-plugin-github.toml": clean(1, ["plugin.license", "commands[0].args"]),
  "CorvidLabs__fledge-plugin-github__f6dd786.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-gitleaks.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-gitleaks__cb8bdf3.toml": clean(1, LICENSE),
  // Scaffold leftovers ("A fledge plugin", command "myplugin"); still a valid manifest.
  "CorvidLabs__fledge-plugin-gitleaks__d8c495d.toml": { errors: [], warnings: [MSG.scaffoldDescription], runtime: "native", commands: 1, unknown: LICENSE },
  "CorvidLabs__fledge-plugin-hangman.toml": clean(),
  "CorvidLabs__fledge-plugin-hello-rust.toml": clean(),
  "CorvidLabs__fledge-plugin-hello-swift.toml": clean(),
  "CorvidLabs__fledge-plugin-hello.toml": clean(),
  "CorvidLabs__fledge-plugin-http.toml": clean(3, ["plugin.license", "commands[0].args", "commands[1].args", "commands[2].args"]),
  "CorvidLabs__fledge-plugin-hub.toml": clean(),
  // exec = true without a protocol has no effect for a plain native plugin.
  "CorvidLabs__fledge-plugin-jwt.toml": { errors: [], warnings: [MSG.capsWithoutProtocol("exec")], runtime: "native", commands: 1, unknown: LICENSE },
  "CorvidLabs__fledge-plugin-jwt__c5a2259.toml": { errors: [], warnings: [MSG.scaffoldDescription], runtime: "native", commands: 1, unknown: LICENSE },
  "CorvidLabs__fledge-plugin-localnet.toml": clean(),
  "CorvidLabs__fledge-plugin-memory.toml": clean(),
  "CorvidLabs__fledge-plugin-metrics.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-metrics__196b343.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-pg.toml": clean(),
  "CorvidLabs__fledge-plugin-port.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-port__b25d37e.toml": { errors: [], warnings: [MSG.scaffoldDescription], runtime: "native", commands: 1, unknown: LICENSE },
  "CorvidLabs__fledge-plugin-roast.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-scratch.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-scratch__a468cab.toml": { errors: [], warnings: [MSG.scaffoldDescription], runtime: "native", commands: 1, unknown: LICENSE },
  "CorvidLabs__fledge-plugin-speedtest.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-sql.toml": clean(),
  "CorvidLabs__fledge-plugin-standup.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-standup__bbece2d.toml": clean(1, LICENSE),
  "CorvidLabs__fledge-plugin-stats.toml": clean(),
  "CorvidLabs__fledge-plugin-stats__39a8cb2.toml": clean(),
  "CorvidLabs__fledge-plugin-todo.toml": clean(),
  "CorvidLabs__fledge-plugin-tz.toml": clean(1, LICENSE),
  // Cargo-style `authors = [...]` instead of `author`: the warning says which key fledge reads.
  "CorvidLabs__fledge-plugin-weather.toml": { errors: [], warnings: [MSG.authorsNotRead], runtime: "native", commands: 1, unknown: ["plugin.authors", "plugin.repository"] },
  "CorvidLabs__fledge-plugin-weather__3f984e0.toml": { errors: [], warnings: [MSG.authorsNotRead], runtime: "native", commands: 1, unknown: ["plugin.authors", "plugin.repository"] },
  // The older [plugin.commands.<name>] form with no binaries: parses, registers nothing.
  "corvid-agent__fledge-plugin-ascii.toml": { errors: [], warnings: [MSG.oldCommandsForm, MSG.noCommands], runtime: "native", commands: 0, unknown: OLD_FORM_EXTRAS },
  // exec without a protocol, as above.
  "corvid-agent__fledge-plugin-codegolf.toml": { errors: [], warnings: [MSG.capsWithoutProtocol("exec")], runtime: "native", commands: 1, unknown: [] },
  "corvid-agent__fledge-plugin-codegolf__1977ac9.toml": { errors: [], warnings: [MSG.capsWithoutProtocol("exec")], runtime: "native", commands: 1, unknown: [] },
  "corvid-agent__fledge-plugin-codegolf__9ca6fc1.toml": clean(),
  // filesystem = "project" on a wasm plugin: valid.
  "corvid-agent__fledge-plugin-envcheck.toml": cleanWasm(),
  "corvid-agent__fledge-plugin-envcheck__f1d6b64.toml": { errors: [], warnings: [MSG.noAuthor], runtime: "wasm", commands: 1, unknown: [] },
  "corvid-agent__fledge-plugin-flip.toml": { errors: [], warnings: [MSG.oldCommandsForm, MSG.noCommands], runtime: "native", commands: 0, unknown: OLD_FORM_EXTRAS },
  "corvid-agent__fledge-plugin-gate.toml": clean(),
  "corvid-agent__fledge-plugin-gate__20ea56f.toml": clean(),
  // A build hook chaining commands with && (run by the installer without a shell; not validate's concern).
  "corvid-agent__fledge-plugin-gif.toml": clean(),
  "corvid-agent__fledge-plugin-gif__4a6842a.toml": clean(),
  "corvid-agent__fledge-plugin-gif__a1206fe.toml": clean(),
  "corvid-agent__fledge-plugin-joke.toml": { errors: [], warnings: [MSG.oldCommandsForm, MSG.noCommands], runtime: "native", commands: 0, unknown: OLD_FORM_EXTRAS },
  "corvid-agent__fledge-plugin-json.toml": clean(),
  "corvid-agent__fledge-plugin-life.toml": cleanWasm(),
  "corvid-agent__fledge-plugin-life__1f04da2.toml": cleanWasm(),
  "corvid-agent__fledge-plugin-matrix.toml": clean(),
  "corvid-agent__fledge-plugin-matrix__376bd54.toml": clean(),
  "corvid-agent__fledge-plugin-maze.toml": clean(),
  "corvid-agent__fledge-plugin-morse.toml": { errors: [], warnings: [MSG.oldCommandsForm, MSG.noCommands], runtime: "native", commands: 0, unknown: OLD_FORM_EXTRAS },
  "corvid-agent__fledge-plugin-pet.toml": clean(),
  "corvid-agent__fledge-plugin-pet__c54900c.toml": clean(),
  "corvid-agent__fledge-plugin-pet__ed028d1.toml": clean(),
  "corvid-agent__fledge-plugin-qr.toml": clean(),
  "corvid-agent__fledge-plugin-quiz.toml": clean(),
  "corvid-agent__fledge-plugin-test-metadata.toml": cleanWasm(),
  // network = true with no hosts: the original had no network for wasm; here it reaches no host until hosts are listed.
  "corvid-agent__fledge-plugin-test-network.toml": { ...cleanWasm(), warnings: [MSG.networkWithoutHosts] },
  "corvid-agent__fledge-plugin-test-store.toml": cleanWasm(),
  "corvid-agent__fledge-plugin-todo.toml": clean(),
  "corvid-agent__fledge-plugin-todo__9322656.toml": clean(),
};

/**
 * The original CLI's scaffold template is Tera, not TOML: `exec = {{ needs_exec }}`
 * is not a TOML value. It must come back as one syntax error with line and column.
 */
export const TEMPLATE_FILE = "_template_plugin.toml.tera";
export const TEMPLATE_EXPECTED = {
  message: "Invalid plugin.toml: illegal character in key (line 14, column 9)",
  line: 14,
  column: 9,
};
