import { render } from 'preact';
import { App } from './app';
import { tokenSignIn } from './auth';
import './styles.css';

// The sign-in seam: an OIDC provider replaces tokenSignIn() here (see docs/console.md).
render(<App provider={tokenSignIn()} />, document.getElementById('app')!);
