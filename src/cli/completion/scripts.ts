/**
 * The shell scripts `autopatch completion SHELL` prints. Each hands the words typed so far to the hidden
 * `autopatch __complete` and offers what it prints (one candidate a line), so the command tree has one
 * source: the program's own definitions.
 */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const BASH = `# autopatch completion for bash. Load it with:  source <(autopatch completion bash)
_autopatch_complete() {
  local IFS=$'\\n'
  local candidates
  candidates=$(autopatch __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  COMPREPLY=($(compgen -W "$candidates" -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -o default -F _autopatch_complete autopatch
`;

const ZSH = `#compdef autopatch
# autopatch completion for zsh. Load it with:  source <(autopatch completion zsh)
# (after compinit), or save it as _autopatch in a folder of $fpath.
_autopatch() {
  local -a candidates
  candidates=("\${(@f)$(autopatch __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [ "$funcstack[1]" = "_autopatch" ]; then
  _autopatch "$@"
else
  compdef _autopatch autopatch
fi
`;

const FISH = `# autopatch completion for fish. Load it with:  autopatch completion fish | source
function __autopatch_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l candidates (autopatch __complete $words[2..-1] 2>/dev/null)
    if test (count $candidates) -gt 0
        printf '%s\\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c autopatch -f -a '(__autopatch_complete)'
`;

export function completionScript(shell: Shell): string {
  return { bash: BASH, zsh: ZSH, fish: FISH }[shell];
}
