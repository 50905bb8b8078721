import { defaultUrl } from "./target";

/** The help text: printed by `plauder help` and after every usage error. */
export const usage = `Usage: plauder <command> [options]

Commands:
  login [--email EMAIL] [--password-stdin]  Sign in and store a token
  logout                                    Forget the stored token
  whoami                                    Show whom the token belongs to
  ping [--count N] [--interval MS]          Measure round trips (default: 4 pings, 1000 ms apart)
  echo TEXT                                 Send TEXT and print what comes back
  publish [--channel NAME] [--ephemeral] TEXT
                                            Publish TEXT (default: a broadcast in the lobby);
                                            --ephemeral: sent live, not kept in its history
  listen [--channel NAME] [--since ID] [--json]
                                            Print publications as they arrive, until Ctrl-C;
                                            a channel other than the lobby shows its recent
                                            history first, and reloads what a reconnect missed;
                                            --since replays the lobby's broadcasts after ID first,
                                            --json prints one JSON object per line
  rooms list [--json]                       List your rooms: channel, role, name
  rooms create NAME                         Create a room; prints its channel
  rooms invite ROOM EMAIL                   Add someone to a room you own (ROOM: id or room:ID)
  chat [--level LEVEL] [--scenario ID]      Talk with the tutor in a new conversation (level
                                            default A2; ID from --list-scenarios): answers
                                            stream as they are written, corrections follow
                                            your lines; /stop, /regenerate, /quit, /help;
                                            Ctrl-C stops an answer, twice leaves
  chat --conversation ID                    Continue a conversation, after its history
  chat --list-scenarios                     List the role-play scenarios: ID, level, title
  help                                      Show this help

Channels: lobby (everyone; the default), room:ID (the room's members),
user:ID (notices for that person, read-only), conversation:ID (its owner;
the tutor's answers stream there).

Options for every command that talks to the server:
  --url URL      Server (default: $PLAUDER_URL, else the stored login's server,
                 else ${defaultUrl})
  --token TOKEN  Access token (default: $PLAUDER_TOKEN, else the stored login,
                 else sign in with $PLAUDER_EMAIL and $PLAUDER_PASSWORD)
  -h, --help     Show this help

login takes --url too. The password is never a flag: login reads one line from stdin
with --password-stdin, else $PLAUDER_PASSWORD, else asks for it in a terminal.
The stored login is $PLAUDER_CONFIG_DIR/credentials.json
(default: $XDG_CONFIG_HOME/plauder, else ~/.config/plauder).
Text that starts with "-" goes after "--": plauder echo -- -1

Exit codes: 0 done, 1 failed, 2 not signed in or wrong credentials,
3 server unreachable, 4 rate limited, 5 not allowed (someone else's channel or room),
64 bad usage, 130 interrupted.
`;
