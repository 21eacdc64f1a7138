import { render } from 'preact';
import './styles.css';
import './ui/prefs';
import { App } from './app';

render(<App />, document.getElementById('app')!);
