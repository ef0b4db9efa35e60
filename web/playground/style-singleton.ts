// Stands in for react-style-singleton in the bundle: the same API, with constructed stylesheets instead of <style>.
//
// Radix (GraphiQL's dialogs and menus) locks page scrolling through react-remove-scroll, which adds its CSS as a
// <style> element. The page's CSP (style-src 'self') refuses inline <style> elements, as it should: they are what
// injected markup would use. A stylesheet built by our own script through the CSSOM is not markup, is not governed
// by style-src, and applies the same rules, so the scroll lock keeps working without 'unsafe-inline'.
// scripts/build-playground.mjs aliases the package to this file.
import { useEffect } from 'react';

/** Adds its CSS while at least one user holds it, as the original's counted singleton does. */
export function stylesheetSingleton(): { add: (css: string) => void; remove: () => void } {
  let users = 0;
  let sheet: CSSStyleSheet | null = null;
  return {
    add(css) {
      users += 1;
      if (users > 1) return;
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    },
    remove() {
      users -= 1;
      if (users > 0 || sheet === null) return;
      const removed = sheet;
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((adopted) => adopted !== removed);
      sheet = null;
    },
  };
}

/** A hook that holds the CSS while the calling component is mounted (re-applied on change when `isDynamic`). */
export function styleHookSingleton(): (styles: string, isDynamic?: boolean) => void {
  const sheet = stylesheetSingleton();
  return (styles, isDynamic) => {
    useEffect(() => {
      sheet.add(styles);
      return () => sheet.remove();
    }, [isDynamic === true ? styles : false]);
  };
}

/** A component that holds `styles` while mounted; each call makes a distinct one (react-remove-scroll compares them). */
export function styleSingleton(): (props: { styles: string; dynamic?: boolean }) => null {
  const useStyle = styleHookSingleton();
  return ({ styles, dynamic }) => {
    useStyle(styles, dynamic);
    return null;
  };
}
