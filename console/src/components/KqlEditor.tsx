// The CodeMirror 6 editor for KQL: highlighting, completion from the schema, history, and
// Ctrl/Cmd+Enter (or Shift+Enter) to run.
import { useEffect, useRef } from "react";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, placeholder } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { autocompletion, completionKeymap, closeBrackets } from "@codemirror/autocomplete";
import { bracketMatching } from "@codemirror/language";
import { kqlCompletion, kqlHighlight, kqlLanguage, type SchemaTable } from "./kql";

/// The style nonce vigil-server put into index.html (CodeMirror injects a <style> element).
function cspNonce(): string {
  return document.querySelector('meta[name="csp-nonce"]')?.getAttribute("content") ?? "";
}

export function KqlEditor(props: {
  value: string;
  onChange: (v: string) => void;
  onRun: () => void;
  schema: SchemaTable[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const run = () => {
      latest.current.onRun();
      return true;
    };
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: latest.current.value,
        extensions: [
          lineNumbers(),
          highlightActiveLine(),
          history(),
          bracketMatching(),
          closeBrackets(),
          kqlLanguage(props.schema.map((t) => t.name)),
          kqlHighlight,
          autocompletion({ override: [kqlCompletion(props.schema)], activateOnTyping: true }),
          placeholder("DeviceProcessEvents | where Timestamp > ago(1d) | summarize count() by bin(Timestamp, 1h) | render timechart"),
          keymap.of([
            { key: "Mod-Enter", run },
            { key: "Shift-Enter", run },
            ...completionKeymap,
            ...historyKeymap,
            ...defaultKeymap,
          ]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) latest.current.onChange(u.state.doc.toString());
          }),
          EditorView.lineWrapping,
          EditorView.cspNonce.of(cspNonce()),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // The schema arrives once; the editor is rebuilt only then.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.schema]);

  // A saved query loaded from outside replaces the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } });
    }
  }, [props.value]);

  return <div className="kql-editor" ref={host} data-testid="kql-editor" />;
}
