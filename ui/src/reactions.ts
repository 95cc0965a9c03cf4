// Reactions the backend accepts (Action { type: "react" }), and how they look.
const REACTION_EMOJI: Record<string, string> = {
  thumbs_up: '\u{1F44D}',
  clap: '\u{1F44F}',
  heart: '\u{2764}\u{FE0F}',
  laugh: '\u{1F602}',
  surprised: '\u{1F62E}',
  celebrate: '\u{1F389}',
};

export const REACTIONS = Object.keys(REACTION_EMOJI);

export function reactionEmoji(name: string): string {
  return REACTION_EMOJI[name] ?? '';
}
