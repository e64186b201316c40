"The README's shell workflow runs the demo's own commands: the same tools with the same options, only other paths."
import re, shlex
from pathlib import Path

from play_fair.pipeline import Command, Lanes, demo_steps

ROOT = Path(__file__).resolve().parents[1]

def readme_commands(tool:str) -> list:
    "Each README command line that runs `tool`, continuation lines joined, as argument lists."
    text = (ROOT/'README.md').read_text().replace('\\\n', ' ')
    blocks = re.findall(r'```bash\n(.*?)```', text, re.S)
    lines = [l.split('#')[0].strip() for b in blocks for l in b.splitlines()]
    return [shlex.split(l) for l in lines if l.startswith(tool + ' ')]

def demo_commands(tool:str) -> list:
    "The argument lists of the demo's commands that run `tool`."
    steps = [s for step in demo_steps(ROOT) for s in (sum(step.lanes, []) if isinstance(step, Lanes) else [step])]
    return [[str(a) for a in s.argv] for s in steps if isinstance(s, Command) and s.argv[0] == tool]

def options(argv:list) -> dict:
    "Options of a command line with their values; values that are paths or shell variables count as 'PATH'."
    opts, i = {}, 1
    while i < len(argv):
        if argv[i].startswith('--'):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith('--') else True
            if isinstance(value, str) and ('/' in value or '$' in value): value = 'PATH'
            opts[argv[i]] = value; i += 1 + (value is not True)
        else: i += 1
    return opts

def test_compute_esvs_matches_the_demo():
    demo = [options(a) for a in demo_commands('compute-esvs') if '--model-name' in a and 'MTRN' in a]
    readme = [options(a) for a in readme_commands('compute-esvs') if '--approximate' not in a]
    assert demo and readme, (demo, readme)
    for opts in demo: opts.pop('--quiet'); opts['--sample-n-frames'] = 'PATH'  # the README loops over $n
    assert readme[0] == demo[0], f"README: {readme[0]}\ndemo:   {demo[0]}"

def test_collate_esvs_matches_the_demo():
    demo = [options(a) for a in demo_commands('collate-esvs') if 'MTRN' in a]
    readme = [options(a) for a in readme_commands('collate-esvs')]
    assert demo and readme == demo[:1], (readme, demo)
