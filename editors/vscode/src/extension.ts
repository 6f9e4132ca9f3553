// Starts `vulnsight lsp` over stdio and hands its diagnostics and code actions to VS Code.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

const LANGUAGES = ["c", "cpp", "python", "javascript", "typescript", "solidity"];

let client: LanguageClient | undefined;

function serverOptions(): ServerOptions {
  const config = vscode.workspace.getConfiguration("vulnsight");
  const command = config.get<string>("path", "vulnsight") || "vulnsight";
  const extra = config.get<string[]>("args", []);
  const run = { command, args: ["lsp", ...extra], transport: TransportKind.stdio };
  return { run, debug: run };
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ language })),
    outputChannelName: "vulnsight",
  };
  client = new LanguageClient("vulnsight", "vulnsight", serverOptions(), clientOptions);
  context.subscriptions.push(client);
  await client.start();
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  if (client) {
    await client.stop();
    client = undefined;
  }
  await start(context);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("vulnsight.restart", () => restart(context)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("vulnsight.path") || event.affectsConfiguration("vulnsight.args")) {
        void restart(context);
      }
    }),
  );
  await start(context);
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
