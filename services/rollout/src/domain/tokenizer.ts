// The built-in policy's character tokenizer (models/artifacts/vocab.json):
// prompt ids = [bos] + characters; a response ends with eos.
import { InvalidArgumentError } from "../../../../shared/errors";
import type { BuiltinVocab } from "../../../../shared/models/builtin-policy";

export class CharTokenizer {
  readonly size: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  private readonly ids = new Map<string, number>();
  private readonly tokens: string[];
  private readonly specials: number;

  constructor(vocab: BuiltinVocab) {
    this.tokens = vocab.tokens;
    this.size = vocab.tokens.length;
    this.padId = vocab.pad_id;
    this.bosId = vocab.bos_id;
    this.eosId = vocab.eos_id;
    this.specials = Math.max(vocab.pad_id, vocab.bos_id, vocab.eos_id) + 1;
    vocab.tokens.forEach((t, i) => {
      if (i >= this.specials) this.ids.set(t, i);
    });
  }

  /** Encodes a prompt; a character outside the alphabet is an INVALID_ARGUMENT at `fieldPath`. */
  encodePrompt(text: string, fieldPath: string): number[] {
    const out = [this.bosId];
    for (let i = 0; i < text.length; i++) {
      const id = this.ids.get(text[i]!);
      if (id === undefined) {
        throw new InvalidArgumentError(fieldPath, `character ${JSON.stringify(text[i])} at ${i} is not in the model's alphabet ${JSON.stringify(this.tokens.slice(this.specials).join(""))}`);
      }
      out.push(id);
    }
    return out;
  }

  /** Encodes a response: its characters, then the end-of-sequence token. */
  encodeResponse(text: string, fieldPath: string): number[] {
    return [...this.encodePrompt(text, fieldPath).slice(1), this.eosId];
  }

  /** Decodes response ids up to the end-of-sequence token, skipping special tokens. */
  decode(ids: readonly number[]): string {
    let text = "";
    for (const id of ids) {
      if (id === this.eosId) break;
      if (id >= this.specials && id < this.size) text += this.tokens[id];
    }
    return text;
  }
}
